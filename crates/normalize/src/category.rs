//! `eventType` → ECS `event.kind`, `event.category` and `event.type`.
//!
//! One table of rules, sorted by pattern: a pattern ending in `.` is a prefix
//! rule, any other pattern an exact eventType. The most specific rule wins:
//! the exact eventType first, then its prefixes from the longest down. A rule
//! gives a fixed class, or fixes the categories and derives `event.type` from
//! the verb in the eventType's last segment (`create` → `creation`, ...).
//! Every eventType of Okta's catalog (`fixtures/okta/event-types.tsv`) is
//! matched by a rule (tested); an eventType no rule matches gets its family's
//! default by its first segment, else `iam`/`info` (Sekoia.io's fallback).
//! Every value is an ECS allowed value; `docs/fields.md` explains the rules
//! and `fixtures/ecs/event-types.tsv` holds the result for every catalog type.

/// ECS categorization of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    /// `event.category` values.
    pub(crate) category: &'static [&'static str],
    /// `event.type` values.
    pub(crate) kind: &'static [&'static str],
    /// `event.kind` is `alert` (a detection by Okta), else `event`.
    pub(crate) alert: bool,
}

impl Class {
    /// ECS `event.kind`.
    pub(crate) fn event_kind(&self) -> &'static str {
        if self.alert {
            "alert"
        } else {
            "event"
        }
    }
}

const fn c(category: &'static [&'static str], kind: &'static [&'static str]) -> Class {
    Class {
        category,
        kind,
        alert: false,
    }
}

const fn alert(category: &'static [&'static str], kind: &'static [&'static str]) -> Class {
    Class {
        category,
        kind,
        alert: true,
    }
}

const AUTH_START: Class = c(&["authentication"], &["start"]);
const AUTH_END: Class = c(&["authentication"], &["end"]);
const AUTH_INFO: Class = c(&["authentication"], &["info"]);
/// A sign-in: ECS and Elastic give both categories (Sekoia.io only `session`).
const LOGIN: Class = c(&["authentication", "session"], &["start"]);
const LOGOUT: Class = c(&["authentication", "session"], &["end"]);
const AUTH_SESSION_INFO: Class = c(&["authentication", "session"], &["info"]);
const AUTH_IAM_INFO: Class = c(&["authentication", "iam"], &["info"]);
const SESSION_START: Class = c(&["session"], &["start"]);
const SESSION_END: Class = c(&["session"], &["end"]);
const SESSION_INFO: Class = c(&["session"], &["info"]);
const IAM_INFO: Class = c(&["iam"], &["info"]);
const IAM_CHANGE: Class = c(&["iam"], &["change"]);
const IAM_CREATION: Class = c(&["iam"], &["creation"]);
const IAM_DELETION: Class = c(&["iam"], &["deletion"]);
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
const ADMIN_INFO: Class = c(&["iam"], &["admin", "info"]);
const CONF_CREATION: Class = c(&["configuration"], &["creation"]);
const CONF_CHANGE: Class = c(&["configuration"], &["change"]);
const CONF_DELETION: Class = c(&["configuration"], &["deletion"]);
const CONF_INFO: Class = c(&["configuration"], &["info"]);
const CONF_ACCESS: Class = c(&["configuration"], &["access"]);
const CONF_IAM_CREATION: Class = c(&["configuration", "iam"], &["creation"]);
const CONF_IAM_CHANGE: Class = c(&["configuration", "iam"], &["change"]);
const CONF_IAM_DELETION: Class = c(&["configuration", "iam"], &["deletion"]);
const CONF_IAM_INFO: Class = c(&["configuration", "iam"], &["info"]);
const HOST_CHANGE: Class = c(&["host"], &["change"]);
const HOST_INFO: Class = c(&["host"], &["info"]);
const NETWORK_INFO: Class = c(&["network"], &["info"]);
const IDS_INFO: Class = c(&["intrusion_detection"], &["info"]);

// Detections and Identity Threat Protection (see docs/fields.md, `event.kind`).
/// ThreatInsight: a request from an IP Okta's threat intelligence flags, or an
/// attack on the org. `threat`/`indicator` as Elastic, plus `intrusion_detection`.
const THREAT_INSIGHT_ALERT: Class =
    alert(&["intrusion_detection", "threat"], &["info", "indicator"]);
const THREAT_INSIGHT: Class = c(&["intrusion_detection", "threat"], &["info", "indicator"]);
/// A request Okta denied (block list, ThreatInsight enforcement).
const REQUEST_BLOCKED: Class = c(
    &["intrusion_detection", "network", "threat"],
    &["denied", "indicator"],
);
/// An IP reported malicious to Okta's risk engine (internal).
const THREAT_INDICATOR: Class = c(&["threat"], &["indicator"]);
/// Detections about credentials: breached, sprayed, reused refresh token.
const CREDENTIAL_ALERT: Class = alert(&["authentication", "intrusion_detection"], &["info"]);
/// ITP: Okta detected a risk for a user.
const USER_RISK_ALERT: Class = alert(&["iam", "intrusion_detection"], &["info"]);
/// ITP: a user's risk level changed.
const USER_RISK: Class = c(&["iam", "intrusion_detection"], &["info"]);
/// ITP: the context of a session changed (IP, device, ...).
const SESSION_CONTEXT: Class = c(&["intrusion_detection", "session"], &["info"]);
/// A roaming session detected by Okta.
const SESSION_DETECTION: Class = alert(&["intrusion_detection", "session"], &["info"]);
/// ITP: a session re-evaluated against policy, or the action taken.
const REEVALUATION: Class = c(
    &["authentication", "intrusion_detection", "session"],
    &["info"],
);
/// ITP: a session re-evaluation found a policy violation.
const REEVALUATION_FAILED: Class = alert(
    &["authentication", "intrusion_detection", "session"],
    &["info"],
);
/// ITP: entity risk policy evaluated, or its action invoked.
const ENTITY_RISK_POLICY: Class = c(&["configuration", "intrusion_detection"], &["info"]);
/// ITP: a security events provider (Shared Signals) reported a risk.
const PROVIDER_REPORT: Class = alert(&["intrusion_detection", "threat"], &["info", "indicator"]);
/// A user reports activity they did not do (Sekoia.io: iam/change).
const SUSPICIOUS_ACTIVITY_REPORT: Class = alert(&["iam"], &["change"]);

/// What a rule gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// This class.
    Fixed(Class),
    /// These categories, `event.type` from the verb.
    Verb(Family),
}

/// Categories of a verb rule; see [`verb_class`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `configuration`.
    Config,
    /// `configuration` and `iam`.
    ConfigIam,
    /// `iam`.
    Iam,
    /// `iam`, with `event.type` `user`.
    IamUser,
    /// `iam`, with `event.type` `group`.
    IamGroup,
    /// `iam`, with `event.type` `admin`.
    IamAdmin,
    /// `host` (ECS has no creation/deletion for hosts: those are `info`).
    Host,
}

use Family::{Config, ConfigIam, Host, Iam, IamAdmin, IamGroup, IamUser};
use Rule::{Fixed, Verb};

/// The rules, sorted by pattern (bytewise); a pattern ending in `.` is a prefix.
const RULES: &[(&str, Rule)] = &[
    ("access.", Verb(Iam)),
    ("account.", Verb(Config)),
    ("account.user.classify", Fixed(USER_CHANGE)),
    ("analytics.", Verb(Config)),
    ("app.access_request.approver.approve", Fixed(ADMIN_CHANGE)),
    ("app.access_request.approver.delete", Fixed(ADMIN_DELETION)),
    ("app.access_request.approver.deny", Fixed(ADMIN_CHANGE)),
    ("app.access_request.delete", Fixed(ADMIN_DELETION)),
    ("app.access_request.deny", Fixed(IAM_CHANGE)),
    ("app.access_request.expire", Fixed(IAM_CHANGE)),
    ("app.access_request.grant", Fixed(IAM_CHANGE)),
    ("app.access_request.request", Fixed(IAM_CREATION)),
    ("app.ad.api.user_import.", Fixed(USER_INFO)),
    ("app.ad.credential.verify", Fixed(AUTH_INFO)),
    ("app.ad.password_migration_campaign.", Verb(Config)),
    ("app.ai_agent_provider.", Verb(Config)),
    ("app.app_instance.csr.", Verb(Config)),
    ("app.app_instance.provision_sync_job.", Fixed(USER_INFO)),
    ("app.cross_app_access.", Verb(Config)),
    ("app.generic.unauth_app_access_attempt", Fixed(AUTH_INFO)),
    ("app.inbound_del_auth.login_success", Fixed(LOGIN)),
    ("app.interclient_mapping.", Verb(Config)),
    ("app.kerberos_rich_client.", Fixed(CONF_INFO)),
    ("app.kerberos_rich_client.user_authentication_successful", Fixed(AUTH_START)),
    ("app.keys.", Verb(ConfigIam)),
    ("app.ldap.", Fixed(CONF_INFO)),
    ("app.ldap.password.change.failed", Fixed(USER_CHANGE)),
    ("app.oauth2.", Fixed(AUTH_INFO)),
    ("app.oauth2.admin.consent.", Fixed(ADMIN_CHANGE)),
    ("app.oauth2.api_resource.", Verb(Iam)),
    ("app.oauth2.as.authorize", Fixed(LOGIN)),
    ("app.oauth2.as.authorize.", Fixed(LOGIN)),
    ("app.oauth2.as.authorize.scope_denied", Fixed(AUTH_IAM_INFO)),
    ("app.oauth2.as.consent.", Fixed(USER_CHANGE)),
    ("app.oauth2.as.resource_server.credentials.lifecycle.", Verb(Config)),
    ("app.oauth2.as.token.detect_reuse", Fixed(CREDENTIAL_ALERT)),
    ("app.oauth2.as.token.grant", Fixed(AUTH_SESSION_INFO)),
    ("app.oauth2.as.token.grant.", Fixed(LOGIN)),
    ("app.oauth2.as.token.revoke", Fixed(LOGOUT)),
    ("app.oauth2.as.token.revoke.", Fixed(LOGOUT)),
    ("app.oauth2.authorize", Fixed(LOGIN)),
    ("app.oauth2.authorize.", Fixed(LOGIN)),
    ("app.oauth2.client.", Verb(Config)),
    ("app.oauth2.client.privilege.", Verb(IamAdmin)),
    ("app.oauth2.client.read_client_secret", Fixed(CONF_ACCESS)),
    ("app.oauth2.consent.", Fixed(USER_CHANGE)),
    ("app.oauth2.credentials.lifecycle.", Verb(Config)),
    ("app.oauth2.key.rollover", Fixed(AUTH_INFO)),
    ("app.oauth2.signon", Fixed(LOGIN)),
    ("app.oauth2.token.detect_reuse", Fixed(CREDENTIAL_ALERT)),
    ("app.oauth2.token.grant", Fixed(AUTH_SESSION_INFO)),
    ("app.oauth2.token.grant.", Fixed(LOGIN)),
    ("app.oauth2.token.grant.revoke", Fixed(LOGOUT)),
    ("app.oauth2.token.revoke", Fixed(LOGOUT)),
    ("app.oauth2.token.revoke.", Fixed(LOGOUT)),
    ("app.oauth2.trusted_server.", Verb(Config)),
    ("app.office365.", Fixed(IAM_INFO)),
    ("app.office365.api.error.push.password", Fixed(AUTH_INFO)),
    ("app.office365.api.error.revoke.refresh.token", Fixed(AUTH_INFO)),
    ("app.office365.clientplatform.", Fixed(CONF_INFO)),
    ("app.office365.graph.api.error.", Fixed(CONF_INFO)),
    ("app.office365.graph.api.error.service.principal.msgraph.authentication.failure", Fixed(AUTH_INFO)),
    ("app.office365.provisioning_app.", Verb(Config)),
    ("app.office365.provisioning_app_credential.", Verb(Config)),
    ("app.office365.service.principal.cleanup.job.", Fixed(CONF_INFO)),
    ("app.office365.service.principal.cleanup.job.invalid.credentials", Fixed(AUTH_INFO)),
    ("app.policy.", Verb(Config)),
    ("app.radius.agent.", Fixed(NETWORK_INFO)),
    ("app.radius.info_access.", Fixed(IAM_INFO)),
    ("app.realtimesync.", Verb(Config)),
    ("app.request_new.notify", Fixed(CONF_INFO)),
    ("app.rum.", Fixed(CONF_INFO)),
    ("app.saml.", Verb(Config)),
    ("app.user_management", Fixed(CONF_INFO)),
    ("app.user_management.", Verb(Config)),
    ("application.account.", Verb(IamUser)),
    ("application.appuser.", Fixed(USER_INFO)),
    ("application.cache.", Fixed(CONF_INFO)),
    ("application.configuration.", Verb(Config)),
    ("application.integration.", Fixed(CONF_INFO)),
    ("application.integration.authentication_failure", Fixed(AUTH_INFO)),
    ("application.lifecycle.", Verb(Config)),
    ("application.policy.", Verb(Config)),
    ("application.provision.field_mapping_rule.", Verb(Config)),
    ("application.provision.group.", Verb(IamGroup)),
    ("application.provision.group_membership.", Verb(IamGroup)),
    ("application.provision.group_push.", Verb(Config)),
    ("application.provision.group_push.mapping.app.group.renamed", Fixed(GROUP_CHANGE)),
    ("application.provision.group_push.mapping.app.group.renamed.failed", Fixed(GROUP_CHANGE)),
    ("application.provision.group_push.mapping.created.from.rule.warning.upsertGroup.duplicate.name", Fixed(GROUP_INFO)),
    ("application.provision.group_push.mapping.deactivated.source.group.renamed", Fixed(GROUP_CHANGE)),
    ("application.provision.group_push.mapping.deactivated.source.group.renamed.failed", Fixed(GROUP_CHANGE)),
    ("application.provision.group_push.push_memberships", Fixed(GROUP_CHANGE)),
    ("application.provision.integration.", Fixed(CONF_INFO)),
    ("application.provision.user.", Verb(IamUser)),
    ("application.provision.user.password", Fixed(AUTH_INFO)),
    ("application.provision.user.push_okta_password", Fixed(AUTH_INFO)),
    ("application.provision.user.push_password", Fixed(AUTH_INFO)),
    ("application.registration_policy.", Verb(Config)),
    ("application.user_membership.", Verb(IamUser)),
    ("application.user_membership.add", Fixed(USER_CHANGE)),
    ("application.user_membership.change_password", Fixed(AUTH_INFO)),
    ("application.user_membership.remove", Fixed(USER_CHANGE)),
    ("application.user_membership.restore_password", Fixed(AUTH_INFO)),
    ("application.user_membership.show_password", Fixed(AUTH_INFO)),
    ("certification.", Verb(Config)),
    ("core.", Fixed(CONF_INFO)),
    ("core.user_auth.", Fixed(AUTH_INFO)),
    ("credential.register", Fixed(USER_CREATION)),
    ("credential.revoke", Fixed(USER_DELETION)),
    ("device.assurance.", Verb(Config)),
    ("device.custom_push.", Fixed(AUTH_INFO)),
    ("device.desktop_mfa.", Fixed(AUTH_INFO)),
    ("device.desktop_mfa.device_logout.", Fixed(AUTH_END)),
    ("device.enrollment.", Fixed(HOST_INFO)),
    ("device.integration.", Verb(Config)),
    ("device.lifecycle.", Fixed(HOST_CHANGE)),
    ("device.local_account.", Fixed(HOST_INFO)),
    ("device.password_sync.", Fixed(AUTH_INFO)),
    ("device.platform.", Verb(Host)),
    ("device.platform_sso.", Fixed(AUTH_INFO)),
    ("device.posture.", Verb(Host)),
    ("device.push.", Verb(Host)),
    ("device.signals.", Fixed(HOST_INFO)),
    ("device.token.", Fixed(AUTH_INFO)),
    ("device.user.", Verb(IamUser)),
    ("device.user_os_account.", Fixed(HOST_INFO)),
    ("directory.app_user_profile.", Verb(IamUser)),
    ("directory.external.group.", Verb(IamGroup)),
    ("directory.linked_object.", Verb(Config)),
    ("directory.mapping.", Verb(Config)),
    ("directory.non_default_user_profile.", Verb(IamUser)),
    ("directory.realm.", Verb(Config)),
    ("directory.user_profile.", Verb(IamUser)),
    ("entitlement.", Fixed(CONF_INFO)),
    ("event_hook.", Verb(Config)),
    ("governance.", Verb(Config)),
    ("group.application_assignment.", Verb(IamGroup)),
    ("group.lifecycle.", Verb(IamGroup)),
    ("group.privilege.", Verb(IamGroup)),
    ("group.profile.", Verb(IamGroup)),
    ("group.user_membership.add", Fixed(GROUP_CHANGE)),
    ("group.user_membership.remove", Fixed(GROUP_CHANGE)),
    ("group.user_membership.rule.", Verb(IamGroup)),
    ("iam.policy.", Verb(Config)),
    ("iam.resourceset.", Verb(Config)),
    ("iam.role.", Verb(IamAdmin)),
    ("inline_hook.", Verb(Config)),
    ("integration.api_service.lifecycle.authorize", Fixed(AUTH_INFO)),
    ("integration.api_service.lifecycle.revoke", Fixed(CONF_DELETION)),
    ("master_application.user_membership.", Verb(IamUser)),
    ("mim.", Verb(Config)),
    ("mim.createEnrollment.", Fixed(CONF_CREATION)),
    ("network_zone.", Verb(Config)),
    ("oauth2.", Verb(Config)),
    ("org.", Fixed(CONF_INFO)),
    ("pam.", Verb(Config)),
    ("pam.auth_token.", Fixed(AUTH_INFO)),
    ("pam.client_enrollment_policy_token.", Fixed(AUTH_INFO)),
    ("pam.credential_verification.", Fixed(AUTH_INFO)),
    ("pam.gateway.setup_token.", Fixed(AUTH_INFO)),
    ("pam.group.", Verb(IamGroup)),
    ("pam.offline_group.", Verb(IamGroup)),
    ("pam.password.", Fixed(AUTH_INFO)),
    ("pam.permission.", Verb(Iam)),
    ("pam.preauthorization.", Fixed(AUTH_INFO)),
    ("pam.resource_group.", Verb(IamGroup)),
    ("pam.server.ssh_login", Fixed(LOGIN)),
    ("pam.server_account.password.", Fixed(AUTH_INFO)),
    ("pam.server_account.password_change.", Fixed(AUTH_INFO)),
    ("pam.service_account.password.", Fixed(AUTH_INFO)),
    ("pam.service_account.password_rotation.", Fixed(AUTH_INFO)),
    ("pam.user.", Verb(IamUser)),
    ("personal.", Verb(Config)),
    ("personal.user.", Fixed(USER_INFO)),
    ("pki.", Verb(Config)),
    ("plugin.", Fixed(CONF_INFO)),
    ("policy.auth_reevaluate.", Fixed(REEVALUATION)),
    ("policy.auth_reevaluate.fail", Fixed(REEVALUATION_FAILED)),
    ("policy.branch.", Verb(Config)),
    ("policy.continuous_access.", Fixed(REEVALUATION)),
    ("policy.entity_risk.", Fixed(ENTITY_RISK_POLICY)),
    ("policy.evaluate_sign_on", Fixed(AUTH_INFO)),
    ("policy.execute.", Fixed(USER_INFO)),
    ("policy.lifecycle.", Verb(Config)),
    ("policy.mapping.", Verb(Config)),
    ("policy.rule.", Verb(Config)),
    ("policy.rule.create", Fixed(CONF_CREATION)),
    ("policy.scheduled.", Fixed(CONF_INFO)),
    ("resource.", Verb(Config)),
    ("resource.user_entitlements.", Verb(IamUser)),
    ("resource_servers.", Verb(Config)),
    ("scheduled_action.", Verb(Config)),
    ("security.attack.end", Fixed(THREAT_INSIGHT)),
    ("security.attack.start", Fixed(THREAT_INSIGHT_ALERT)),
    ("security.attack_protection.", Verb(Config)),
    ("security.authenticator.", Verb(Config)),
    ("security.behavior.", Verb(Config)),
    ("security.bot_protection.", Verb(Config)),
    ("security.breached_credential.detected", Fixed(CREDENTIAL_ALERT)),
    ("security.device.", Verb(Config)),
    ("security.events.provider.", Verb(Config)),
    ("security.events.provider.receive_event", Fixed(PROVIDER_REPORT)),
    ("security.events.transmitter.", Verb(Config)),
    ("security.internal.authentication", Fixed(AUTH_INFO)),
    ("security.internal.dco_malicious_ip_report", Fixed(THREAT_INDICATOR)),
    ("security.internal.dco_user_risk_report", Fixed(USER_RISK)),
    ("security.internal.threat.detected", Fixed(THREAT_INSIGHT_ALERT)),
    ("security.internal.valid_password_sprayed.detected", Fixed(CREDENTIAL_ALERT)),
    ("security.origin.", Fixed(CONF_CHANGE)),
    ("security.password_spray.detected", Fixed(CREDENTIAL_ALERT)),
    ("security.protected_action.attempt", Fixed(ADMIN_INFO)),
    ("security.protected_action.settings.", Verb(Config)),
    ("security.request.blocked", Fixed(REQUEST_BLOCKED)),
    ("security.session.detect_client_roaming", Fixed(SESSION_DETECTION)),
    ("security.session_protection.", Verb(Config)),
    ("security.threat.configuration.", Verb(Config)),
    ("security.threat.detected", Fixed(THREAT_INSIGHT_ALERT)),
    ("security.trusted_origin.", Verb(Config)),
    ("security.voice.", Verb(Config)),
    ("security.zone.", Fixed(CONF_CHANGE)),
    ("self_service.", Verb(Config)),
    ("support.", Verb(Config)),
    ("system.agent.", Verb(Config)),
    ("system.agent.ad.import_user", Fixed(CONF_IAM_INFO)),
    ("system.agent.ad.reset_user_password", Fixed(USER_CHANGE)),
    ("system.agent.ad.unlock_user_account", Fixed(CONF_IAM_CHANGE)),
    ("system.agent.ad.update_user", Fixed(CONF_IAM_CHANGE)),
    ("system.agent.ldap.change_user_password", Fixed(USER_CHANGE)),
    ("system.agent.ldap.reset_user_password", Fixed(USER_CHANGE)),
    ("system.agent.ldap.unlock_user_account", Fixed(CONF_IAM_CHANGE)),
    ("system.agent.ldap.update_user", Fixed(CONF_IAM_CHANGE)),
    ("system.agent.ldap.update_user_password", Fixed(USER_CHANGE)),
    ("system.agent_pools.", Verb(Config)),
    ("system.api_token.create", Fixed(ADMIN_CREATION)),
    ("system.api_token.enable", Fixed(ADMIN_CHANGE)),
    ("system.api_token.request_outside_allowed_range", Fixed(AUTH_INFO)),
    ("system.api_token.revoke", Fixed(ADMIN_DELETION)),
    ("system.api_token.update", Fixed(ADMIN_CHANGE)),
    ("system.beta.", Verb(Config)),
    ("system.brand.", Verb(Config)),
    ("system.captcha.", Verb(Config)),
    ("system.client.", Fixed(CONF_INFO)),
    ("system.csv.", Fixed(CONF_INFO)),
    ("system.custom_email_server.", Verb(Config)),
    ("system.custom_error.", Verb(Config)),
    ("system.custom_signin.", Verb(Config)),
    ("system.custom_signout.", Verb(Config)),
    ("system.custom_url_domain.", Verb(Config)),
    ("system.directory.", Verb(Config)),
    ("system.dr.", Fixed(CONF_INFO)),
    ("system.email.", Fixed(CONF_INFO)),
    ("system.email.challenge_factor_redeemed", Fixed(AUTH_START)),
    ("system.email.mfa_enroll_notification.", Fixed(AUTH_INFO)),
    ("system.email.mfa_reset_notification.", Fixed(AUTH_INFO)),
    ("system.email.password_reset.", Fixed(AUTH_INFO)),
    ("system.email.send_factor_verify_message", Fixed(AUTH_START)),
    ("system.email.template.", Verb(Config)),
    ("system.email_domain.", Verb(Config)),
    ("system.feature.", Verb(Config)),
    ("system.hook.", Verb(Config)),
    ("system.identity_sources.", Verb(Config)),
    ("system.identity_sources.bulk_group_membership_delete", Fixed(GROUP_DELETION)),
    ("system.identity_sources.bulk_group_membership_upsert", Fixed(GROUP_CHANGE)),
    ("system.identity_sources.group.", Verb(IamGroup)),
    ("system.identity_sources.user.", Verb(IamUser)),
    ("system.idp.", Verb(Config)),
    ("system.import.", Verb(Config)),
    ("system.import.group.", Verb(IamGroup)),
    ("system.import.group_membership.", Verb(IamGroup)),
    ("system.import.membership_processing.", Fixed(GROUP_INFO)),
    ("system.import.user.", Verb(IamUser)),
    ("system.internal.classify.user", Fixed(USER_CHANGE)),
    ("system.internal.devorg.create", Fixed(CONF_CREATION)),
    ("system.internal.migrate.appuser", Fixed(USER_CHANGE)),
    ("system.iwa.", Verb(Config)),
    ("system.iwa_agentless.", Verb(Config)),
    ("system.iwa_agentless.auth", Fixed(AUTH_START)),
    ("system.iwa_agentless.auth_after_redirect", Fixed(AUTH_START)),
    ("system.iwa_agentless.user.", Fixed(USER_INFO)),
    ("system.iwa_agentless_kerberos.", Verb(Config)),
    ("system.ldapi.", Fixed(CONF_INFO)),
    ("system.ldapi.bind", Fixed(AUTH_START)),
    ("system.ldapi.unbind", Fixed(AUTH_END)),
    ("system.log_stream.", Verb(Config)),
    ("system.mfa.factor.", Verb(Config)),
    ("system.mfa.preregister.", Fixed(USER_INFO)),
    ("system.oauth2.", Fixed(AUTH_INFO)),
    ("system.operation.", Fixed(CONF_INFO)),
    ("system.org.", Verb(Config)),
    ("system.push.", Fixed(AUTH_START)),
    ("system.rate_limit.", Verb(Config)),
    ("system.self_service.", Verb(Config)),
    ("system.sms.", Fixed(AUTH_START)),
    ("system.sms.receive_status", Fixed(CONF_INFO)),
    ("system.theme.", Verb(Config)),
    ("system.voice.", Fixed(AUTH_START)),
    ("system.voice.receive_status", Fixed(CONF_INFO)),
    ("system.well_known_uri.", Verb(Config)),
    ("task.", Verb(Config)),
    ("user.account.", Fixed(IAM_CHANGE)),
    ("user.account.report_suspicious_activity_by_enduser", Fixed(SUSPICIOUS_ACTIVITY_REPORT)),
    ("user.authentication.", Fixed(AUTH_START)),
    ("user.authentication.slo", Fixed(LOGOUT)),
    ("user.authentication.universal_logout", Fixed(LOGOUT)),
    ("user.authentication.universal_logout.", Fixed(LOGOUT)),
    ("user.behavior.", Verb(IamUser)),
    ("user.chrome.", Fixed(HOST_CHANGE)),
    ("user.credential.", Verb(IamUser)),
    ("user.credential.enroll", Fixed(USER_CREATION)),
    ("user.device_session.end", Fixed(LOGOUT)),
    ("user.device_session.start", Fixed(LOGIN)),
    ("user.identity_snapshot.", Verb(IamUser)),
    ("user.identity_verification", Fixed(AUTH_INFO)),
    ("user.identity_verification.start", Fixed(AUTH_START)),
    ("user.import.password", Fixed(AUTH_INFO)),
    ("user.internal.authentication.", Fixed(AUTH_INFO)),
    ("user.internal.risk.change", Fixed(USER_RISK)),
    ("user.internal.risk.detect", Fixed(USER_RISK_ALERT)),
    ("user.internal.session_context_change", Fixed(SESSION_CONTEXT)),
    ("user.lifecycle.", Fixed(USER_CHANGE)),
    ("user.lifecycle.create", Fixed(USER_CREATION)),
    ("user.lifecycle.delete.", Fixed(USER_DELETION)),
    ("user.lifecycle.jit.", Fixed(USER_INFO)),
    ("user.mfa.", Fixed(AUTH_INFO)),
    ("user.mfa.factor.", Fixed(USER_CHANGE)),
    ("user.mfa.factor.activate", Fixed(USER_CREATION)),
    ("user.mfa.factor.deactivate", Fixed(USER_DELETION)),
    ("user.mfa.factor.reset_all", Fixed(USER_DELETION)),
    ("user.privileged_account.", Verb(IamAdmin)),
    ("user.realm.", Verb(IamUser)),
    ("user.risk.change", Fixed(USER_RISK)),
    ("user.risk.detect", Fixed(USER_RISK_ALERT)),
    ("user.session.", Fixed(SESSION_INFO)),
    ("user.session.clear", Fixed(SESSION_END)),
    ("user.session.context.change", Fixed(SESSION_CONTEXT)),
    ("user.session.end", Fixed(LOGOUT)),
    ("user.session.expire", Fixed(SESSION_END)),
    ("user.session.impersonation.end", Fixed(SESSION_END)),
    ("user.session.impersonation.extend", Fixed(ADMIN_CHANGE)),
    ("user.session.impersonation.grant", Fixed(ADMIN_CREATION)),
    ("user.session.impersonation.initiate", Fixed(SESSION_START)),
    ("user.session.impersonation.revoke", Fixed(ADMIN_DELETION)),
    ("user.session.start", Fixed(LOGIN)),
    ("workflows.org.", Fixed(CONF_INFO)),
    ("workflows.user.", Verb(ConfigIam)),
    ("workflows.user.connection.reauthorize", Fixed(AUTH_INFO)),
    ("workload_principal.", Verb(Iam)),
    ("zone.", Verb(Config)),
    ("zone.make_blacklist", Fixed(CONF_CHANGE)),
    ("zone.remove_blacklist", Fixed(CONF_CHANGE)),
];

/// Defaults by first segment, for eventTypes no rule matches (none in the catalog).
const FAMILY_DEFAULTS: &[(&str, Class)] = &[
    ("app.", IAM_INFO),
    ("application.", CONF_INFO),
    ("device.", HOST_INFO),
    ("group.", GROUP_INFO),
    ("policy.", CONF_INFO),
    ("security.", IDS_INFO),
    ("system.", CONF_INFO),
    ("user.", USER_INFO),
];

/// Sekoia.io's fallback for anything else.
const FALLBACK: Class = IAM_INFO;

/// What an eventType's verb says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Creation,
    Deletion,
    Change,
    Info,
}

const CREATION_VERBS: &[&str] = &[
    "add",
    "added",
    "bootstrap",
    "clone",
    "create",
    "created",
    "enroll",
    "generate",
    "issue",
    "provision",
    "register",
];
const DELETION_VERBS: &[&str] = &[
    "delete",
    "deleted",
    "deprovision",
    "remove",
    "removed",
    "revoke",
    "revoked",
    "unassign",
];
const CHANGE_VERBS: &[&str] = &[
    "activate",
    "activated",
    "apply",
    "assign",
    "cancel",
    "canceled",
    "cancelled",
    "change",
    "changed",
    "deactivate",
    "deactivated",
    "disable",
    "disabled",
    "enable",
    "enabled",
    "grant",
    "lock",
    "move",
    "overwrite",
    "promote",
    "reactivate",
    "rename",
    "renew",
    "reset",
    "revert",
    "rollback",
    "rotate",
    "save",
    "stage",
    "suspend",
    "unlock",
    "unsuspend",
    "update",
    "updated",
];

/// The action named by the last segment: a verb, alone or before `_…`
/// (`update_logo`, `add_to_project`); anything else is `Info`.
fn action(event_type: &str) -> Action {
    let last = event_type.rsplit('.').next().unwrap_or(event_type);
    let named = |verbs: &[&str]| {
        verbs.iter().any(|verb| {
            last.strip_prefix(verb)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
        })
    };
    if named(CREATION_VERBS) {
        Action::Creation
    } else if named(DELETION_VERBS) {
        Action::Deletion
    } else if named(CHANGE_VERBS) {
        Action::Change
    } else {
        Action::Info
    }
}

fn verb_class(family: Family, action: Action) -> Class {
    use Action::{Change, Creation, Deletion, Info};
    match (family, action) {
        (Config, Creation) => CONF_CREATION,
        (Config, Deletion) => CONF_DELETION,
        (Config, Change) => CONF_CHANGE,
        (Config, Info) => CONF_INFO,
        (ConfigIam, Creation) => CONF_IAM_CREATION,
        (ConfigIam, Deletion) => CONF_IAM_DELETION,
        (ConfigIam, Change) => CONF_IAM_CHANGE,
        (ConfigIam, Info) => CONF_IAM_INFO,
        (Iam, Creation) => IAM_CREATION,
        (Iam, Deletion) => IAM_DELETION,
        (Iam, Change) => IAM_CHANGE,
        (Iam, Info) => IAM_INFO,
        (IamUser, Creation) => USER_CREATION,
        (IamUser, Deletion) => USER_DELETION,
        (IamUser, Change) => USER_CHANGE,
        (IamUser, Info) => USER_INFO,
        (IamGroup, Creation) => GROUP_CREATION,
        (IamGroup, Deletion) => GROUP_DELETION,
        (IamGroup, Change) => GROUP_CHANGE,
        (IamGroup, Info) => GROUP_INFO,
        (IamAdmin, Creation) => ADMIN_CREATION,
        (IamAdmin, Deletion) => ADMIN_DELETION,
        (IamAdmin, Change) => ADMIN_CHANGE,
        (IamAdmin, Info) => ADMIN_INFO,
        (Host, Change) => HOST_CHANGE,
        (Host, Creation | Deletion | Info) => HOST_INFO,
    }
}

/// The rule for an eventType: the exact one, else the longest prefix.
fn rule(event_type: &str) -> Option<&'static (&'static str, Rule)> {
    let find = |pattern: &str| {
        RULES
            .binary_search_by(|(p, _)| (*p).cmp(pattern))
            .ok()
            .map(|i| &RULES[i])
    };
    find(event_type).or_else(|| {
        event_type
            .rmatch_indices('.')
            .find_map(|(i, _)| find(&event_type[..=i]))
    })
}

/// Categorizes an eventType. Never fails: an eventType no rule matches gets
/// its family's default, else Sekoia.io's fallback `iam`/`info`.
pub(crate) fn classify(event_type: &str) -> Class {
    if let Some((_, rule)) = rule(event_type) {
        return match *rule {
            Fixed(class) => class,
            Verb(family) => verb_class(family, action(event_type)),
        };
    }
    let family = event_type.split_once('.').map_or("", |(first, _)| first);
    FAMILY_DEFAULTS
        .iter()
        .find(|(prefix, _)| prefix.strip_suffix('.') == Some(family))
        .map_or(FALLBACK, |(_, class)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Okta's event-type catalog (names and descriptions), see its header.
    const CATALOG: &str = include_str!("../../../fixtures/okta/event-types.tsv");

    /// The eventTypes of the catalog, in file order.
    fn catalog() -> Vec<&'static str> {
        let mut lines = CATALOG.lines().filter(|l| !l.starts_with('#'));
        assert_eq!(
            lines.next().map(|h| h.split('\t').next()),
            Some(Some("event_type")),
            "catalog header line"
        );
        let types: Vec<&str> = lines
            .map(|l| l.split('\t').next().unwrap_or_default())
            .collect();
        assert!(types.len() > 1100, "catalog has only {} types", types.len());
        types
    }

    /// Rules for eventTypes outside the catalog: names Okta has dropped but
    /// stored logs still hold (Sekoia.io's table has them), and a family's
    /// future members (`user.credential.*`, `app.oauth2.as.token.revoke.*`
    /// as `app.oauth2.token.revoke.*`).
    const BEYOND_CATALOG: &[&str] = &[
        "app.access_request.approver.delete",
        "app.oauth2.api_resource.",
        "app.oauth2.as.token.revoke.",
        "app.oauth2.token.grant.revoke",
        "policy.rule.create",
        "user.credential.",
    ];

    #[test]
    fn every_catalog_event_type_is_covered_by_a_rule() {
        let uncovered: Vec<&str> = catalog()
            .into_iter()
            .filter(|t| rule(t).is_none())
            .collect();
        assert!(
            uncovered.is_empty(),
            "{} catalog eventTypes have no exact entry or reviewed prefix rule in category.rs \
             (add one, then re-bless fixtures/ecs/event-types.tsv):\n{}",
            uncovered.len(),
            uncovered.join("\n")
        );
    }

    #[test]
    fn every_rule_covers_a_catalog_event_type() {
        let types = catalog();
        let unused: Vec<&str> = RULES
            .iter()
            .map(|(pattern, _)| *pattern)
            .filter(|pattern| !BEYOND_CATALOG.contains(pattern))
            .filter(|pattern| {
                !types
                    .iter()
                    .any(|t| rule(t).is_some_and(|(p, _)| p == pattern))
            })
            .collect();
        assert!(
            unused.is_empty(),
            "rules no catalog eventType uses (remove them or list them in BEYOND_CATALOG):\n{}",
            unused.join("\n")
        );
    }

    /// ECS 9 (elastic/ecs b85f7573, schemas/event.yml): the expected
    /// `event.type` values of each `event.category` used here.
    fn expected_types(category: &str) -> &'static [&'static str] {
        match category {
            "authentication" | "session" => &["start", "end", "info"],
            "iam" => &[
                "admin", "change", "creation", "deletion", "group", "info", "user",
            ],
            "configuration" => &["access", "change", "creation", "deletion", "info"],
            "host" => &["access", "change", "end", "info", "start"],
            "intrusion_detection" => &["allowed", "denied", "info"],
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
            "threat" => &["indicator"],
            _ => &[],
        }
    }

    /// The ECS check: known categories, each with at least one of its
    /// expected types, and every type expected by at least one category
    /// (with one category: every pair expected).
    fn check_ecs(name: &str, class: Class) -> Result<(), String> {
        if class.category.is_empty() || class.kind.is_empty() {
            return Err(format!("{name}: empty category or type"));
        }
        for category in class.category {
            let expected = expected_types(category);
            if expected.is_empty() {
                return Err(format!("{name}: category {category} not used by ECS here"));
            }
            if !class.kind.iter().any(|k| expected.contains(k)) {
                return Err(format!("{name}: no ECS-expected type for {category}"));
            }
        }
        for kind in class.kind {
            if !class
                .category
                .iter()
                .any(|category| expected_types(category).contains(kind))
            {
                return Err(format!("{name}: type {kind} fits none of its categories"));
            }
        }
        Ok(())
    }

    #[test]
    fn every_class_uses_ecs_expected_values() {
        let mut bad = Vec::new();
        for t in catalog() {
            if let Err(e) = check_ecs(t, classify(t)) {
                bad.push(e);
            }
        }
        for (pattern, rule) in RULES {
            let classes: Vec<Class> = match *rule {
                Fixed(class) => vec![class],
                Verb(family) => [
                    Action::Creation,
                    Action::Deletion,
                    Action::Change,
                    Action::Info,
                ]
                .into_iter()
                .map(|a| verb_class(family, a))
                .collect(),
            };
            for class in classes {
                if let Err(e) = check_ecs(pattern, class) {
                    bad.push(e);
                }
            }
        }
        for (prefix, class) in FAMILY_DEFAULTS {
            if let Err(e) = check_ecs(prefix, *class) {
                bad.push(e);
            }
        }
        if let Err(e) = check_ecs("fallback", FALLBACK) {
            bad.push(e);
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn rules_are_sorted_unique_and_well_formed() {
        for pair in RULES.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "RULES not strictly sorted at {} / {}",
                pair[0].0,
                pair[1].0
            );
        }
        for (pattern, _) in RULES {
            assert!(
                !pattern.is_empty() && !pattern.starts_with('.') && !pattern.contains(".."),
                "malformed pattern {pattern:?}"
            );
        }
    }

    /// One eventType of every family, with its expected class.
    const FAMILIES: &[(&str, &[&str], &[&str])] = &[
        (
            "user.session.start",
            &["authentication", "session"],
            &["start"],
        ),
        ("user.session.end", &["authentication", "session"], &["end"]),
        ("user.session.clear", &["session"], &["end"]),
        ("user.session.access_admin_app", &["session"], &["info"]),
        ("user.authentication.sso", &["authentication"], &["start"]),
        (
            "user.authentication.auth_via_mfa",
            &["authentication"],
            &["start"],
        ),
        (
            "user.authentication.slo",
            &["authentication", "session"],
            &["end"],
        ),
        ("user.mfa.factor.activate", &["iam"], &["user", "creation"]),
        ("user.mfa.factor.reset_all", &["iam"], &["user", "deletion"]),
        ("user.mfa.factor.suspend", &["iam"], &["user", "change"]),
        (
            "user.mfa.okta_verify.deny_push",
            &["authentication"],
            &["info"],
        ),
        ("user.account.lock", &["iam"], &["change"]),
        ("user.account.update_password", &["iam"], &["change"]),
        ("user.lifecycle.create", &["iam"], &["user", "creation"]),
        ("user.lifecycle.suspend", &["iam"], &["user", "change"]),
        (
            "user.lifecycle.delete.initiated",
            &["iam"],
            &["user", "deletion"],
        ),
        ("group.user_membership.add", &["iam"], &["group", "change"]),
        ("group.lifecycle.create", &["iam"], &["group", "creation"]),
        (
            "group.user_membership.rule.trigger",
            &["iam"],
            &["group", "info"],
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
        (
            "application.provision.user.push",
            &["iam"],
            &["user", "info"],
        ),
        (
            "app.oauth2.as.authorize",
            &["authentication", "session"],
            &["start"],
        ),
        (
            "app.oauth2.as.authorize.code",
            &["authentication", "session"],
            &["start"],
        ),
        (
            "app.oauth2.as.token.grant",
            &["authentication", "session"],
            &["info"],
        ),
        (
            "app.oauth2.as.token.grant.access_token",
            &["authentication", "session"],
            &["start"],
        ),
        (
            "app.oauth2.as.token.revoke",
            &["authentication", "session"],
            &["end"],
        ),
        ("app.oauth2.as.consent.grant", &["iam"], &["user", "change"]),
        (
            "app.oauth2.client.lifecycle.create",
            &["configuration"],
            &["creation"],
        ),
        (
            "app.oauth2.interact.interaction_code",
            &["authentication"],
            &["info"],
        ),
        ("app.keys.rotate", &["configuration", "iam"], &["change"]),
        ("system.api_token.create", &["iam"], &["admin", "creation"]),
        ("system.api_token.revoke", &["iam"], &["admin", "deletion"]),
        (
            "system.push.send_factor_verify_push",
            &["authentication"],
            &["start"],
        ),
        (
            "system.email.template.update",
            &["configuration"],
            &["change"],
        ),
        ("system.import.user.create", &["iam"], &["user", "creation"]),
        ("system.agent.ad.read_ldap", &["configuration"], &["info"]),
        (
            "system.agent.ad.reset_user_password",
            &["iam"],
            &["user", "change"],
        ),
        ("policy.lifecycle.update", &["configuration"], &["change"]),
        ("policy.rule.add", &["configuration"], &["creation"]),
        ("policy.evaluate_sign_on", &["authentication"], &["info"]),
        ("zone.update", &["configuration"], &["change"]),
        ("zone.make_blacklist", &["configuration"], &["change"]),
        ("zone.remove_blacklist", &["configuration"], &["change"]),
        ("device.lifecycle.deactivate", &["host"], &["change"]),
        ("device.platform.add", &["host"], &["info"]),
        ("device.user.add", &["iam"], &["user", "creation"]),
        (
            "security.threat.detected",
            &["intrusion_detection", "threat"],
            &["info", "indicator"],
        ),
        (
            "security.request.blocked",
            &["intrusion_detection", "network", "threat"],
            &["denied", "indicator"],
        ),
        (
            "user.risk.detect",
            &["iam", "intrusion_detection"],
            &["info"],
        ),
        (
            "user.risk.change",
            &["iam", "intrusion_detection"],
            &["info"],
        ),
        (
            "user.session.context.change",
            &["intrusion_detection", "session"],
            &["info"],
        ),
        (
            "policy.auth_reevaluate.fail",
            &["authentication", "intrusion_detection", "session"],
            &["info"],
        ),
        (
            "policy.continuous_access.evaluate",
            &["authentication", "intrusion_detection", "session"],
            &["info"],
        ),
        (
            "security.events.provider.receive_event",
            &["intrusion_detection", "threat"],
            &["info", "indicator"],
        ),
        (
            "security.events.provider.create",
            &["configuration"],
            &["creation"],
        ),
        ("pam.secret.reveal", &["configuration"], &["info"]),
        (
            "pam.server.ssh_login",
            &["authentication", "session"],
            &["start"],
        ),
        (
            "workflows.user.flow.create",
            &["configuration", "iam"],
            &["creation"],
        ),
        (
            "mim.createEnrollment.IOS",
            &["configuration"],
            &["creation"],
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
    fn verbs_are_read_from_the_last_segment() {
        assert_eq!(action("a.b.create"), Action::Creation);
        assert_eq!(action("a.b.add_to_project"), Action::Creation);
        assert_eq!(action("a.b.delete_appgroup"), Action::Deletion);
        assert_eq!(action("a.b.unassign"), Action::Deletion);
        assert_eq!(action("a.b.assign"), Action::Change);
        assert_eq!(action("a.b.deactivate"), Action::Change);
        assert_eq!(action("a.b.update_logo"), Action::Change);
        assert_eq!(action("a.create.b"), Action::Info);
        assert_eq!(action("a.b.updates"), Action::Info);
        assert_eq!(action("a.b.read_client_secret"), Action::Info);
        assert_eq!(action("create"), Action::Creation);
        assert_eq!(action(""), Action::Info);
    }

    #[test]
    fn unknown_event_types_fall_back_by_family_then_to_iam_info() {
        // Under a rule's prefix: the rule, with the verb.
        assert_eq!(classify("pam.brand_new.create"), CONF_CREATION);
        // Family defaults.
        assert_eq!(classify("user.brand_new_thing"), USER_INFO);
        assert_eq!(classify("group.something"), GROUP_INFO);
        assert_eq!(classify("security.new.thing"), IDS_INFO);
        // Nothing known.
        assert_eq!(classify("totally.unknown"), FALLBACK);
        assert_eq!(classify("widget"), FALLBACK);
        assert_eq!(classify(""), FALLBACK);
        assert_eq!(classify("."), FALLBACK);
    }

    #[test]
    fn detections_are_alerts() {
        let alerts = [
            "security.threat.detected",
            "security.attack.start",
            "security.breached_credential.detected",
            "app.oauth2.as.token.detect_reuse",
            "app.oauth2.token.detect_reuse",
            "user.account.report_suspicious_activity_by_enduser",
            "user.risk.detect",
            "policy.auth_reevaluate.fail",
            "security.events.provider.receive_event",
            "security.session.detect_client_roaming",
        ];
        for t in alerts {
            assert_eq!(classify(t).event_kind(), "alert", "{t}");
        }
        let events = [
            "security.request.blocked",
            "security.attack.end",
            "user.risk.change",
            "user.session.context.change",
            "policy.auth_reevaluate.enforce",
            "security.events.provider.update",
            "user.session.start",
            "no.such.type",
        ];
        for t in events {
            assert_eq!(classify(t).event_kind(), "event", "{t}");
        }
    }
}

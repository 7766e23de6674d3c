//! Every field that Elastic's prebuilt Okta detection rules read is written by the
//! `elastic` schema.
//!
//! The lists below are the field names referenced by the 50 rules of
//! elastic/detection-rules `rules/integrations/okta/*.toml` (commit
//! `14cf530f0d2177023092449cd9d9348b4a8884c2`, 2026-08-21): the fields their queries
//! (KQL, EQL, ES|QL), `new_terms`, `threshold` and alert-suppression settings read, and the
//! fields their investigation guides tell an analyst to look at. Only the names are kept
//! here (facts about the rules), not the rules.
//!
//! Each field must appear in the `elastic` document of at least one raw fixture
//! (`fixtures/okta/*.json`), as a leaf or as the parent of leaves (`okta.target.id` inside
//! the `okta.target` array, `okta.request.ip_chain.geographical_context`). The fields that
//! belong to other data (alerts, endpoint hosts, the collecting agent) are listed apart with
//! the reason, and must not be written.

use std::collections::BTreeSet;
use std::path::Path;

use oktaflow_normalize::{Normalizer, Options, Schema};
use serde_json::Value;

/// Fields read by the rules' queries and settings: an alert depends on each.
const QUERIED: &[&str] = &[
    "client.geo.city_name",
    "client.geo.country_name",
    "client.ip",
    "client.user.name",
    "data_stream.dataset",
    "event.action",
    "event.category",
    "event.dataset",
    "event.outcome",
    "okta.actor.alternate_id",
    "okta.actor.display_name",
    "okta.actor.id",
    "okta.actor.type",
    "okta.authentication_context.external_session_id",
    "okta.authentication_context.issuer.id",
    "okta.authentication_context.root_session_id",
    "okta.client.device",
    "okta.client.ip",
    "okta.client.user_agent.raw_user_agent",
    "okta.debug_context.debug_data.behaviors",
    "okta.debug_context.debug_data.device_fingerprint",
    "okta.debug_context.debug_data.dt_hash",
    "okta.debug_context.debug_data.factor",
    "okta.debug_context.debug_data.flattened.grantType",
    "okta.debug_context.debug_data.flattened.privilegeGranted",
    "okta.debug_context.debug_data.flattened.requestedScopes",
    "okta.debug_context.debug_data.request_uri",
    "okta.debug_context.debug_data.risk_behaviors",
    "okta.debug_context.debug_data.risk_level",
    "okta.debug_context.debug_data.risk_reasons",
    "okta.debug_context.debug_data.threat_suspected",
    "okta.event_type",
    "okta.outcome.reason",
    "okta.outcome.result",
    "okta.security_context.is_proxy",
    "okta.target.id",
    "source.as.number",
    "source.as.organization.name",
    "source.geo.city_name",
    "source.geo.country_name",
    "source.ip",
    "user.email",
    "user.name",
    "user_agent.original",
    "user_agent.os.name",
];

/// Fields the rules' investigation guides (notes) point the analyst to.
const IN_GUIDES: &[&str] = &[
    "okta.authentication_context.credential_type",
    "okta.client.id",
    "okta.client.zone",
    "okta.debug_context.debug_data.flattened",
    "okta.device.id",
    "okta.device.managed",
    "okta.device.name",
    "okta.device.os_platform",
    "okta.device.os_version",
    "okta.display_message",
    "okta.request.ip_chain",
    "okta.request.ip_chain.geographical_context",
    "okta.severity",
    "okta.target",
    "okta.target.alternate_id",
    "okta.target.display_name",
    "okta.target.type",
    "okta.transaction.id",
    "okta.transaction.type",
    "user.full_name",
    "user.target.full_name",
];

/// Fields the rules name that are not Okta System Log data, with the reason; neither
/// oktaflow nor Elastic's Okta integration writes them on these documents.
const NOT_OKTA: &[(&str, &str)] = &[
    ("host.os.type", "endpoint alerts in an EQL sequence"),
    ("host.id", "endpoint data (investigation guide)"),
    ("host.name", "endpoint data (investigation guide)"),
    ("kibana.alert.rule.name", "alert documents (rules over alerts)"),
    ("kibana.alert.rule.rule_id", "alert documents (rules over alerts)"),
    ("kibana.alert.severity", "alert documents (rules over alerts)"),
    ("signal.rule.threat.tactic.name", "alert documents (EQL sequence)"),
    (
        "event.time",
        "investigation guides only; Elastic's pipeline does not write it (@timestamp is the event time)",
    ),
    (
        "okta.client.ip_chain.ip",
        "investigation guides only; the chain is okta.request.ip_chain (checked above)",
    ),
    (
        "okta.client.geographical_context",
        "investigation guides only; written as client.geo.* (checked above)",
    ),
];

/// A field a rule reads that only some documents can have: `cloud.account.id`, a
/// `new_terms` field of the proxy first-occurrence rule. With Elastic's integration it is
/// the collecting host's cloud metadata (Elastic Agent's `add_cloud_metadata`), not the
/// event's; oktaflow writes it for events pushed through EventBridge (the envelope's AWS
/// account), so with pulled events that rule's second term is missing, as it is with
/// Elastic's integration on a host outside a cloud.
const SOMETIMES: &[&str] = &["cloud.account.id"];

/// Every leaf path of `v` and every object path above a leaf; arrays are transparent
/// (`okta.target.id` for `okta.target[i].id`).
fn paths(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                paths(&path, v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| paths(prefix, item, out)),
        _ => {}
    }
}

/// The paths of the `elastic` documents of every raw fixture.
fn written() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/okta");
    let mut normalizer = Normalizer::new(Options {
        schema: Schema::Elastic,
        ..Options::default()
    });
    let mut out = BTreeSet::new();
    let mut documents = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/okta") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let raw = std::fs::read(&path).expect("a raw fixture");
        let doc = normalizer
            .normalize_value(&raw)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        paths("", &doc, &mut out);
        documents += 1;
    }
    assert!(
        documents > 50,
        "only {documents} fixtures in {}",
        dir.display()
    );
    out
}

#[test]
fn every_field_the_prebuilt_okta_rules_read_is_written() {
    let written = written();
    let missing: Vec<&str> = QUERIED
        .iter()
        .chain(IN_GUIDES)
        .chain(SOMETIMES)
        .copied()
        .filter(|f| !written.contains(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "fields of Elastic's prebuilt Okta rules the elastic schema does not write: {missing:?}"
    );
    let unexpected: Vec<&str> = NOT_OKTA
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| written.contains(*f))
        .collect();
    assert!(
        unexpected.is_empty(),
        "listed as not Okta data but written (move them to QUERIED / IN_GUIDES): {unexpected:?}"
    );
}

#[test]
fn the_rule_field_lists_do_not_overlap() {
    let mut seen = BTreeSet::new();
    for field in QUERIED
        .iter()
        .chain(IN_GUIDES)
        .chain(SOMETIMES)
        .chain(NOT_OKTA.iter().map(|(f, _)| f))
    {
        assert!(seen.insert(*field), "{field} is listed twice");
    }
    assert_eq!(seen.len(), 45 + 21 + 1 + 10);
}

//! Changed profiles as documents of their own stream (an inventory index, `okta-users.ndjson`).

use chrono::SecondsFormat;
use oktaflow_normalize::Profiles;
use serde_json::json;

use crate::store::Committed;

/// One profile document: its id (stable per profile version) and its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDocument {
    /// `<okta id>@<store version>`: a replayed refresh writes the same ids.
    pub id: String,
    /// The compact JSON document.
    pub json: String,
}

/// A document per user and device that `committed` changed, from `profiles` (the snapshot
/// after that commit): ECS `user.*` / `device.*`, the whole profile under `okta.profile`,
/// `event.kind` `asset` and `event.dataset` `okta.users` / `okta.devices`.
pub fn profile_documents(committed: &Committed, profiles: &Profiles) -> Vec<ProfileDocument> {
    let at = profiles
        .as_of
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
    let mut out = Vec::new();
    for id in &committed.changed_users {
        let Some(u) = profiles.user(id) else { continue };
        let doc = json!({
            "@timestamp": at,
            "event": {"kind": "asset", "dataset": "okta.users", "id": format!("{id}@{}", committed.version)},
            "user": {
                "id": u.id(),
                "name": u.login(),
                "email": u.email(),
                "full_name": u.display_name(),
                "roles": u.roles().iter().map(|r| r.as_ref()).collect::<Vec<_>>(),
                "group": {"name": u.groups().iter().map(|g| g.as_ref()).collect::<Vec<_>>()},
            },
            "okta": {"profile": {
                "status": u.status(),
                "department": u.department(),
                "title": u.title(),
                "manager": u.manager(),
                "employee_number": u.employee_number(),
                "organization": u.organization(),
                "last_updated": u.last_updated(),
                "privileged": u.privileged(),
            }, "enrichment": {"version": committed.version}},
        });
        out.push(ProfileDocument {
            id: format!("{id}@{}", committed.version),
            json: doc.to_string(),
        });
    }
    for id in &committed.changed_devices {
        let Some(d) = profiles.device(id) else {
            continue;
        };
        let doc = json!({
            "@timestamp": at,
            "event": {"kind": "asset", "dataset": "okta.devices", "id": format!("{id}@{}", committed.version)},
            "device": {"id": d.id(), "manufacturer": d.manufacturer(), "model": {"identifier": d.model()}},
            "okta": {"profile": {"device": {
                "name": d.name(),
                "platform": d.platform(),
                "os_version": d.os_version(),
                "status": d.status(),
                "managed": d.managed(),
                "registered": d.registered(),
                "users": d.users().collect::<Vec<_>>(),
            }}, "enrichment": {"version": committed.version}},
        });
        out.push(ProfileDocument {
            id: format!("{id}@{}", committed.version),
            json: doc.to_string(),
        });
    }
    out
}

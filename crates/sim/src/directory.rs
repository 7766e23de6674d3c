//! The simulated org's directory: users, groups and their members, admin role assignments
//! and devices, as Okta's management API serves them (`/api/v1/users`, `/api/v1/groups`,
//! `/api/v1/groups/{id}/users`, `/api/v1/iam/assignees/users`, `/api/v1/users/{id}/roles`,
//! `/api/v1/devices?expand=user`). The people are the generator's (the actors of the System
//! Log events), so profiles join onto events. Changes over time come from
//! [`SimHandle`](crate::SimHandle) methods (department change, role grant, deactivation).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, SubsecRound, Utc};
use serde_json::{json, Value};

use crate::generate::Org;

/// Departments handed out round-robin.
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Finance",
    "Sales",
    "Marketing",
    "Support",
    "Human Resources",
    "Legal",
    "IT",
];
/// Titles handed out round-robin.
const TITLES: &[&str] = &["Analyst", "Engineer", "Manager", "Director", "Specialist"];
/// Device platforms, models and manufacturers handed out round-robin.
const DEVICES: &[(&str, &str, &str, &str)] = &[
    ("WINDOWS", "Latitude 7440", "Dell Inc.", "10.0.22631"),
    ("MACOS", "MacBookPro18,3", "APPLE", "14.4.1"),
    ("IOS", "iPhone15,2", "APPLE", "17.4"),
    ("ANDROID", "Pixel 8", "Google", "14"),
];

/// One user of the directory.
#[derive(Debug, Clone)]
pub(crate) struct DirUser {
    pub(crate) id: String,
    pub(crate) login: String,
    pub(crate) first: String,
    pub(crate) last: String,
    pub(crate) status: String,
    pub(crate) department: String,
    pub(crate) title: String,
    pub(crate) manager: Option<String>,
    pub(crate) employee_number: String,
    pub(crate) last_updated: DateTime<Utc>,
    /// Deleted in Okta: in no listing any more (kept so that indexes stay valid).
    pub(crate) deleted: bool,
}

/// One group and its members (user indexes).
#[derive(Debug, Clone)]
pub(crate) struct DirGroup {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) members: Vec<usize>,
    pub(crate) last_membership_updated: DateTime<Utc>,
}

/// One device and its user (index).
#[derive(Debug, Clone)]
pub(crate) struct DirDevice {
    pub(crate) id: String,
    pub(crate) user: usize,
    pub(crate) kind: usize,
    pub(crate) managed: bool,
    pub(crate) status: String,
    pub(crate) last_updated: DateTime<Utc>,
    /// Deleted in Okta: in no listing any more.
    pub(crate) deleted: bool,
}

/// The whole directory.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    pub(crate) users: Vec<DirUser>,
    pub(crate) groups: Vec<DirGroup>,
    /// Admin role types by user index.
    pub(crate) roles: BTreeMap<usize, Vec<String>>,
    pub(crate) devices: Vec<DirDevice>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Directory {
    /// The directory of `org`, last updated around `now` minus a month.
    pub(crate) fn new(org: &Org, now: DateTime<Utc>) -> Directory {
        // Okta's timestamps have millisecond precision.
        let base = now.trunc_subsecs(3) - ChronoDuration::days(30);
        let users: Vec<DirUser> = org
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| DirUser {
                id: u.id.clone(),
                login: u.login.clone(),
                first: u.first.to_string(),
                last: u.last.to_string(),
                status: "ACTIVE".into(),
                department: DEPARTMENTS[i % DEPARTMENTS.len()].into(),
                title: TITLES[i % TITLES.len()].into(),
                manager: (i >= 10).then(|| {
                    let m = &org.users[i % 10];
                    format!("{} {}", m.first, m.last)
                }),
                employee_number: format!("{}", 10_000 + i),
                last_updated: base + ChronoDuration::seconds(i as i64),
                deleted: false,
            })
            .collect();
        let n = users.len();
        let groups = org
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| DirGroup {
                id: group.id.clone(),
                name: group.name.to_string(),
                members: (0..n)
                    .filter(|i| g == 0 || i % org.groups.len() == g)
                    .collect(),
                last_membership_updated: base,
            })
            .collect();
        let roles = org
            .admins
            .iter()
            .enumerate()
            .map(|(k, &u)| {
                let role = if k == 0 { "SUPER_ADMIN" } else { "ORG_ADMIN" };
                (u, vec![role.to_string()])
            })
            .collect();
        let devices = org
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| DirDevice {
                id: u.device_id.clone(),
                user: i,
                kind: i % DEVICES.len(),
                managed: i % 3 != 0,
                status: "ACTIVE".into(),
                last_updated: base + ChronoDuration::seconds(i as i64),
                deleted: false,
            })
            .collect();
        Directory {
            users,
            groups,
            roles,
            devices,
        }
    }

    /// The index of user `id`.
    pub(crate) fn user_index(&self, id: &str) -> Option<usize> {
        self.users.iter().position(|u| u.id == id && !u.deleted)
    }

    /// Okta's User object.
    pub(crate) fn user_json(&self, i: usize) -> Value {
        let u = &self.users[i];
        json!({
            "id": u.id,
            "status": u.status,
            "created": stamp(u.last_updated - ChronoDuration::days(365)),
            "activated": null,
            "statusChanged": null,
            "lastLogin": null,
            "lastUpdated": stamp(u.last_updated),
            "passwordChanged": null,
            "type": {"id": "oty1simdefault"},
            "profile": {
                "firstName": u.first,
                "lastName": u.last,
                "login": u.login,
                "email": u.login,
                "displayName": format!("{} {}", u.first, u.last),
                "department": u.department,
                "title": u.title,
                "manager": u.manager,
                "employeeNumber": u.employee_number,
                "organization": "Acme",
                "mobilePhone": null,
                "secondEmail": null,
            },
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": format!("/api/v1/users/{}", u.id)}},
        })
    }

    /// Okta's Group object.
    pub(crate) fn group_json(&self, g: usize) -> Value {
        let group = &self.groups[g];
        json!({
            "id": group.id,
            "created": stamp(group.last_membership_updated - ChronoDuration::days(365)),
            "lastUpdated": stamp(group.last_membership_updated),
            "lastMembershipUpdated": stamp(group.last_membership_updated),
            "objectClass": ["okta:user_group"],
            "type": if g == 0 { "BUILT_IN" } else { "OKTA_GROUP" },
            "profile": {"name": group.name, "description": null},
        })
    }

    /// Okta's Role objects of user `i` (`/api/v1/users/{id}/roles`).
    pub(crate) fn roles_json(&self, i: usize) -> Value {
        let roles = self.roles.get(&i).cloned().unwrap_or_default();
        Value::Array(
            roles
                .iter()
                .enumerate()
                .map(|(k, role)| {
                    json!({
                        "id": format!("ra1sim{i}r{k}"),
                        "label": role_label(role),
                        "type": role,
                        "status": "ACTIVE",
                        "assignmentType": "USER",
                    })
                })
                .collect(),
        )
    }

    /// Deletes user `i` as Okta does: gone from every listing, its group memberships
    /// (`lastMembershipUpdated` of those groups becomes `now`) and admin roles.
    pub(crate) fn delete_user(&mut self, i: usize, now: DateTime<Utc>) {
        self.users[i].deleted = true;
        for group in &mut self.groups {
            if group.members.contains(&i) {
                group.members.retain(|&m| m != i);
                group.last_membership_updated = now.max(group.last_membership_updated);
            }
        }
        self.roles.remove(&i);
    }

    /// Okta's Device object with `_embedded.users` (`expand=user`; a deleted user left out).
    pub(crate) fn device_json(&self, d: usize) -> Value {
        let device = &self.devices[d];
        let (platform, model, manufacturer, os) = DEVICES[device.kind];
        let users: Vec<Value> = if self.users[device.user].deleted {
            Vec::new()
        } else {
            vec![json!({
                "created": stamp(device.last_updated),
                "managementStatus": if device.managed { "MANAGED" } else { "NOT_MANAGED" },
                "screenLockType": "BIOMETRIC",
                "user": self.user_json(device.user),
            })]
        };
        json!({
            "id": device.id,
            "status": device.status,
            "created": stamp(device.last_updated - ChronoDuration::days(100)),
            "lastUpdated": stamp(device.last_updated),
            "profile": {
                "displayName": format!("{}'s {}", self.users[device.user].first, model),
                "platform": platform,
                "manufacturer": manufacturer,
                "model": model,
                "osVersion": os,
                "registered": true,
                "secureHardwarePresent": true,
                "diskEncryptionType": "ALL_INTERNAL_VOLUMES",
            },
            "resourceType": "UDDevice",
            "resourceDisplayName": {"value": model, "sensitive": false},
            "_embedded": {"users": users},
        })
    }
}

/// Okta's label of a standard admin role type.
fn role_label(role: &str) -> &str {
    match role {
        "SUPER_ADMIN" => "Super Organization Administrator",
        "ORG_ADMIN" => "Organizational Administrator",
        "APP_ADMIN" => "Application Administrator",
        "USER_ADMIN" => "Group Administrator",
        "HELP_DESK_ADMIN" => "Help Desk Administrator",
        "READ_ONLY_ADMIN" => "Read-only Administrator",
        other => other,
    }
}

/// `search=lastUpdated gt "<time>"` → the time; other expressions are not supported.
pub(crate) fn parse_last_updated_search(search: &str) -> Option<DateTime<Utc>> {
    let rest = search.trim().strip_prefix("lastUpdated")?.trim_start();
    let rest = rest.strip_prefix("gt")?.trim();
    let quoted = rest.strip_prefix('"')?.strip_suffix('"')?;
    quoted.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_expressions() {
        assert_eq!(
            parse_last_updated_search(r#"lastUpdated gt "2024-05-01T10:00:00.000Z""#),
            "2024-05-01T10:00:00Z".parse().ok()
        );
        assert_eq!(parse_last_updated_search("status eq \"ACTIVE\""), None);
    }
}

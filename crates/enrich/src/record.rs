//! What the store keeps per user, group and device (JSON values in the store's tables).

use serde::{Deserialize, Serialize};

use crate::okta;

/// A user as stored (its groups and roles are kept apart and joined in the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Okta user id.
    pub id: String,
    /// `profile.login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// `profile.email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `profile.firstName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// `profile.lastName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `profile.displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Lifecycle status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `profile.department`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// `profile.title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `profile.manager`, else `profile.managerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// `profile.employeeNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// `profile.organization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// `lastUpdated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
}

impl From<okta::User> for UserRecord {
    fn from(u: okta::User) -> Self {
        let p = u.profile;
        let display_name = p
            .display_name
            .or_else(|| match (&p.first_name, &p.last_name) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                _ => None,
            });
        UserRecord {
            id: u.id,
            login: p.login,
            email: p.email,
            first_name: p.first_name,
            last_name: p.last_name,
            display_name,
            status: u.status,
            department: p.department,
            title: p.title,
            manager: p.manager.or(p.manager_id),
            employee_number: p.employee_number,
            organization: p.organization,
            last_updated: u.last_updated,
        }
    }
}

/// A group as stored: name and member ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Okta group id.
    pub id: String,
    /// `profile.name`.
    pub name: String,
    /// `lastMembershipUpdated`: members are read again only when it changes.
    #[serde(default)]
    pub last_membership_updated: Option<String>,
    /// Member user ids.
    pub members: Vec<String>,
}

/// A device as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Okta device id.
    pub id: String,
    /// `profile.displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `profile.platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `profile.model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `profile.manufacturer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// `profile.osVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Lifecycle status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Managed for any of its users (`managementStatus` `MANAGED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    /// `profile.registered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
    /// Its users' ids.
    #[serde(default)]
    pub users: Vec<String>,
    /// `lastUpdated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
}

impl From<okta::Device> for DeviceRecord {
    fn from(d: okta::Device) -> Self {
        let users = d.embedded.map(|e| e.users).unwrap_or_default();
        let managed = (!users.is_empty()).then(|| {
            users
                .iter()
                .any(|u| u.management_status.as_deref() == Some("MANAGED"))
        });
        DeviceRecord {
            id: d.id,
            name: d.profile.display_name,
            platform: d.profile.platform,
            model: d.profile.model,
            manufacturer: d.profile.manufacturer,
            os_version: d.profile.os_version,
            status: d.status,
            managed,
            registered: d.profile.registered,
            users: users
                .into_iter()
                .filter_map(|u| u.user.map(|m| m.id))
                .collect(),
            last_updated: d.last_updated,
        }
    }
}

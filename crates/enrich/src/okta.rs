//! The shapes of Okta's management API answers the sync reads (only the members used).
//!
//! Users (`/api/v1/users`), groups (`/api/v1/groups`, `/api/v1/groups/{id}/users`), admin
//! role assignees (`/api/v1/iam/assignees/users`, an object with `value` and `_links`), a
//! user's roles (`/api/v1/users/{id}/roles`) and devices (`/api/v1/devices?expand=user`).

use serde::Deserialize;

/// An Okta User object.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default, rename = "lastUpdated")]
    pub(crate) last_updated: Option<String>,
    #[serde(default)]
    pub(crate) profile: UserProfile,
}

/// `User.profile` (Okta's base profile; custom attributes ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserProfile {
    pub(crate) login: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) department: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) manager: Option<String>,
    pub(crate) manager_id: Option<String>,
    pub(crate) employee_number: Option<String>,
    pub(crate) organization: Option<String>,
}

/// An Okta Group object.
#[derive(Debug, Deserialize)]
pub(crate) struct Group {
    pub(crate) id: String,
    #[serde(default, rename = "lastMembershipUpdated")]
    pub(crate) last_membership_updated: Option<String>,
    #[serde(default)]
    pub(crate) profile: GroupProfile,
}

/// `Group.profile`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GroupProfile {
    pub(crate) name: Option<String>,
}

/// A member of a group (a User object; only its id is kept).
#[derive(Debug, Deserialize)]
pub(crate) struct Member {
    pub(crate) id: String,
}

/// `/api/v1/iam/assignees/users`: `{"value": [...], "_links": {"next": {"href": ...}}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Assignees {
    #[serde(default)]
    pub(crate) value: Vec<Member>,
    #[serde(default, rename = "_links")]
    pub(crate) links: Option<Links>,
}

/// HAL `_links` with an optional `next`.
#[derive(Debug, Deserialize)]
pub(crate) struct Links {
    pub(crate) next: Option<Href>,
}

/// A HAL link.
#[derive(Debug, Deserialize)]
pub(crate) struct Href {
    pub(crate) href: String,
}

/// A role assigned to a user (`/api/v1/users/{id}/roles`).
#[derive(Debug, Deserialize)]
pub(crate) struct Role {
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) label: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

impl Role {
    /// The name kept: the standard role type (`SUPER_ADMIN`), a custom role's label.
    pub(crate) fn name(&self) -> Option<String> {
        if self.status.as_deref().is_some_and(|s| s != "ACTIVE") {
            return None;
        }
        match (self.kind.as_deref(), self.label.as_deref()) {
            (Some("CUSTOM") | None, Some(label)) => Some(label.to_string()),
            (Some(kind), _) => Some(kind.to_string()),
            (None, None) => None,
        }
    }
}

/// An Okta Device object (with `expand=user`).
#[derive(Debug, Deserialize)]
pub(crate) struct Device {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default, rename = "lastUpdated")]
    pub(crate) last_updated: Option<String>,
    #[serde(default)]
    pub(crate) profile: DeviceProfile,
    #[serde(default, rename = "_embedded")]
    pub(crate) embedded: Option<DeviceEmbedded>,
}

/// `Device.profile`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceProfile {
    pub(crate) display_name: Option<String>,
    pub(crate) platform: Option<String>,
    pub(crate) manufacturer: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) os_version: Option<String>,
    pub(crate) registered: Option<bool>,
}

/// `Device._embedded` (`expand=user`).
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceEmbedded {
    #[serde(default)]
    pub(crate) users: Vec<DeviceUser>,
}

/// One user of a device.
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceUser {
    #[serde(default, rename = "managementStatus")]
    pub(crate) management_status: Option<String>,
    pub(crate) user: Option<Member>,
}

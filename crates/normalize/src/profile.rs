//! Identity enrichment data: the user and device profiles joined onto events.
//!
//! Pure data, no I/O: whoever owns a profile store (the `oktaflow-enrich` crate) builds a
//! [`Profiles`] snapshot and hands it to the [`Normalizer`](crate::Normalizer)
//! ([`Normalizer::set_profiles`](crate::Normalizer::set_profiles)). The normalizer only reads
//! it: looking a user or device up is a hash-map probe, never a wait.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// An Okta user's profile as the enrichment knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    /// Okta user id (`00u...`).
    pub id: Box<str>,
    /// `profile.login`.
    pub login: Option<Box<str>>,
    /// `profile.email`.
    pub email: Option<Box<str>>,
    /// `profile.firstName`.
    pub first_name: Option<Box<str>>,
    /// `profile.lastName`.
    pub last_name: Option<Box<str>>,
    /// `profile.displayName`, else first and last name.
    pub display_name: Option<Box<str>>,
    /// The user's lifecycle `status` (`ACTIVE`, `SUSPENDED`, `DEPROVISIONED`, ...).
    pub status: Option<Box<str>>,
    /// `profile.department`.
    pub department: Option<Box<str>>,
    /// `profile.title`.
    pub title: Option<Box<str>>,
    /// `profile.manager` (a name) or `profile.managerId`.
    pub manager: Option<Box<str>>,
    /// `profile.employeeNumber`.
    pub employee_number: Option<Box<str>>,
    /// `profile.organization`.
    pub organization: Option<Box<str>>,
    /// `lastUpdated` as Okta sent it (RFC 3339).
    pub last_updated: Option<Box<str>>,
    /// Names of the groups the user is a member of (shared strings).
    pub groups: Vec<Arc<str>>,
    /// Admin role labels or types assigned to the user (directly or through a group).
    pub roles: Vec<Arc<str>>,
}

impl UserProfile {
    /// True when the user holds at least one admin role.
    pub fn privileged(&self) -> bool {
        !self.roles.is_empty()
    }
}

/// An Okta device's profile as the enrichment knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceProfile {
    /// Okta device id (`guo...`).
    pub id: Box<str>,
    /// `profile.displayName`.
    pub name: Option<Box<str>>,
    /// `profile.platform` (`WINDOWS`, `MACOS`, `IOS`, `ANDROID`, ...).
    pub platform: Option<Box<str>>,
    /// `profile.model`.
    pub model: Option<Box<str>>,
    /// `profile.manufacturer`.
    pub manufacturer: Option<Box<str>>,
    /// `profile.osVersion`.
    pub os_version: Option<Box<str>>,
    /// The device's lifecycle `status` (`ACTIVE`, `SUSPENDED`, ...).
    pub status: Option<Box<str>>,
    /// True when any of its users has `managementStatus` `MANAGED`.
    pub managed: Option<bool>,
    /// `profile.registered`.
    pub registered: Option<bool>,
    /// Ids of the users the device belongs to (`_embedded.users[].user.id`).
    pub users: Vec<Box<str>>,
    /// `lastUpdated` as Okta sent it (RFC 3339).
    pub last_updated: Option<Box<str>>,
}

/// A read-only snapshot of every known profile: what the normalizer joins onto events.
///
/// Built once per refresh by the profile store's owner and shared behind an `Arc`;
/// `version` counts the refreshes of the store and `as_of` is when the snapshot's data was
/// read from Okta, so every enriched document says how old its profiles were.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    /// Refresh generation of the store this snapshot was taken from.
    pub version: u64,
    /// When the data of this snapshot was last synced from Okta.
    pub as_of: Option<DateTime<Utc>>,
    /// Whether users are enriched (an unknown user is only reported when true).
    pub users_enabled: bool,
    /// Whether devices are enriched (an unknown device is only reported when true).
    pub devices_enabled: bool,
    users: HashMap<Box<str>, UserProfile>,
    devices: HashMap<Box<str>, DeviceProfile>,
}

impl Profiles {
    /// An empty snapshot with users and/or devices enabled.
    pub fn new(users_enabled: bool, devices_enabled: bool) -> Profiles {
        Profiles {
            users_enabled,
            devices_enabled,
            ..Profiles::default()
        }
    }

    /// Adds (or replaces) a user.
    pub fn insert_user(&mut self, user: UserProfile) {
        self.users.insert(user.id.clone(), user);
    }

    /// Adds (or replaces) a device.
    pub fn insert_device(&mut self, device: DeviceProfile) {
        self.devices.insert(device.id.clone(), device);
    }

    /// The user with Okta id `id`.
    pub fn user(&self, id: &str) -> Option<&UserProfile> {
        self.users.get(id)
    }

    /// The device with Okta id `id`.
    pub fn device(&self, id: &str) -> Option<&DeviceProfile> {
        self.devices.get(id)
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Number of devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// Age of the snapshot at `at` in whole seconds; `None` without `as_of` or when `at` is
    /// earlier than the snapshot (an old event joined with newer profiles).
    pub fn age_at(&self, at: DateTime<Utc>) -> Option<u64> {
        self.as_of
            .and_then(|t| u64::try_from((at - t).num_seconds()).ok())
    }
}

/// How a user id resolved against the snapshot.
pub(crate) enum UserLookup<'p> {
    /// Enrichment off (or no id): write nothing.
    Off,
    /// Known user.
    Found(&'p UserProfile),
    /// Enrichment on, user not in the store.
    Unknown,
}

impl Profiles {
    pub(crate) fn lookup_user(&self, id: Option<&str>) -> UserLookup<'_> {
        match id {
            Some(id) if self.users_enabled => match self.user(id) {
                Some(p) => UserLookup::Found(p),
                None => UserLookup::Unknown,
            },
            _ => UserLookup::Off,
        }
    }
}

use crate::writer::{k, JsonWriter, Key};

/// Writes the profile of one user as an object at `key`: `known`, and when known every
/// profile member (used by ECS `okta.profile.*` and OCSF `unmapped.okta_profile.*`).
pub(crate) fn write_user_details(w: &mut JsonWriter<'_>, key: Key<'_>, lookup: &UserLookup<'_>) {
    match lookup {
        UserLookup::Off => {}
        UserLookup::Unknown => {
            w.open_object(key);
            w.bool(k!("known"), Some(false));
            w.close();
        }
        UserLookup::Found(p) => {
            w.open_object(key);
            w.bool(k!("known"), Some(true));
            w.str(k!("id"), Some(&p.id));
            w.str(k!("login"), p.login.as_deref());
            w.str(k!("email"), p.email.as_deref());
            w.str(k!("first_name"), p.first_name.as_deref());
            w.str(k!("last_name"), p.last_name.as_deref());
            w.str(k!("display_name"), p.display_name.as_deref());
            w.str(k!("status"), p.status.as_deref());
            w.str(k!("department"), p.department.as_deref());
            w.str(k!("title"), p.title.as_deref());
            w.str(k!("manager"), p.manager.as_deref());
            w.str(k!("employee_number"), p.employee_number.as_deref());
            w.str(k!("organization"), p.organization.as_deref());
            w.str(k!("last_updated"), p.last_updated.as_deref());
            w.str_array(k!("groups"), p.groups.iter().map(|g| g.as_ref()));
            w.str_array(k!("roles"), p.roles.iter().map(|r| r.as_ref()));
            w.bool(k!("privileged"), Some(p.privileged()));
            w.close();
        }
    }
}

/// How a device id resolved against the snapshot.
pub(crate) enum DeviceLookup<'p> {
    /// Enrichment off (or no id).
    Off,
    /// Known device.
    Found(&'p DeviceProfile),
    /// Enrichment on, device not in the store.
    Unknown,
}

impl Profiles {
    pub(crate) fn lookup_device(&self, id: Option<&str>) -> DeviceLookup<'_> {
        match id {
            Some(id) if self.devices_enabled => match self.device(id) {
                Some(p) => DeviceLookup::Found(p),
                None => DeviceLookup::Unknown,
            },
            _ => DeviceLookup::Off,
        }
    }
}

/// Writes one device's profile as an object at `key` (`known`, then every member).
pub(crate) fn write_device_details(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    lookup: &DeviceLookup<'_>,
) {
    match lookup {
        DeviceLookup::Off => {}
        DeviceLookup::Unknown => {
            w.open_object(key);
            w.bool(k!("known"), Some(false));
            w.close();
        }
        DeviceLookup::Found(d) => {
            w.open_object(key);
            w.bool(k!("known"), Some(true));
            w.str(k!("id"), Some(&d.id));
            w.str(k!("name"), d.name.as_deref());
            w.str(k!("platform"), d.platform.as_deref());
            w.str(k!("model"), d.model.as_deref());
            w.str(k!("manufacturer"), d.manufacturer.as_deref());
            w.str(k!("os_version"), d.os_version.as_deref());
            w.str(k!("status"), d.status.as_deref());
            w.bool(k!("managed"), d.managed);
            w.bool(k!("registered"), d.registered);
            w.str_array(k!("users"), d.users.iter().map(|u| u.as_ref()));
            w.str(k!("last_updated"), d.last_updated.as_deref());
            w.close();
        }
    }
}

/// Writes the snapshot's version stamp at `key`: `version`, `as_of` and, when the event is
/// later than the snapshot, `age_s` (how old the profiles were when the event happened).
pub(crate) fn write_stamp(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    profiles: &Profiles,
    event_time: DateTime<Utc>,
) {
    w.open_object(key);
    w.u64(k!("version"), Some(profiles.version));
    let as_of = profiles
        .as_of
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    w.str(k!("as_of"), as_of.as_deref());
    w.u64(k!("age_s"), profiles.age_at(event_time));
    w.close();
}

//! [`ProfileStore`]: the users, groups, admin roles and devices of one org in an embedded
//! [redb](https://docs.rs/redb) file in the state directory.
//!
//! One refresh is one write transaction ([`ProfileStore::commit`]): redb commits
//! copy-on-write with a checksummed root swap, so a crash or `kill -9` during a refresh
//! leaves the previous refresh intact, and the sync cursors (`lastUpdated` of the newest user
//! and device) are committed with the data, so a restart continues incrementally instead of
//! downloading the org again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use oktaflow_normalize::Profiles;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::EnrichError;
use crate::record::{DeviceRecord, GroupRecord, UserRecord};

/// The store's file name in the state directory when there is one source.
pub const STORE_FILE: &str = "profiles.redb";

/// The store file of source `source` in a state directory: `profiles-<source>.redb`
/// (sources share a state directory; source names are file-name safe).
pub fn store_file_name(source: &str) -> String {
    format!("profiles-{source}.redb")
}

/// redb's page cache: small, the snapshot in memory is what lookups use.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
const ROLES: TableDefinition<&str, &[u8]> = TableDefinition::new("roles");
const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

const META_VERSION: &str = "version";
const META_SYNCED_AT: &str = "synced_at";
const META_USERS_CURSOR: &str = "users_cursor";
const META_DEVICES_CURSOR: &str = "devices_cursor";
const META_FULL_SYNCED_AT: &str = "full_synced_at";

/// What one refresh read from Okta, committed at once by [`ProfileStore::commit`].
#[derive(Debug, Default, Clone)]
pub struct Refresh {
    /// Users new or changed since the users cursor (all of them on the first pull).
    pub users: Vec<UserRecord>,
    /// `users` is every user of the org (a full pull): stored users not in it were deleted
    /// in Okta and are removed.
    pub users_complete: bool,
    /// The newest `lastUpdated` seen (the next incremental pull starts after it).
    pub users_cursor: Option<String>,
    /// Every group with its members, when groups were read (replaces the stored ones).
    pub groups: Option<Vec<GroupRecord>>,
    /// Every user holding an admin role with the roles, when roles were read (replaces).
    pub roles: Option<BTreeMap<String, Vec<String>>>,
    /// Devices new or changed since the devices cursor (all of them on the first pull).
    pub devices: Vec<DeviceRecord>,
    /// `devices` is every device of the org: stored devices not in it are removed.
    pub devices_complete: bool,
    /// The newest device `lastUpdated` seen.
    pub devices_cursor: Option<String>,
    /// When this refresh started reading.
    pub synced_at: Option<DateTime<Utc>>,
}

/// The outcome of a commit: the store's new version and the profiles that changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The store version after the commit (one more per refresh).
    pub version: u64,
    /// Ids of users whose profile, groups or roles changed.
    pub changed_users: Vec<String>,
    /// Ids of devices that changed.
    pub changed_devices: Vec<String>,
    /// Ids of users removed (deleted in Okta: missing from a full pull).
    pub removed_users: Vec<String>,
    /// Ids of devices removed (missing from a full pull).
    pub removed_devices: Vec<String>,
}

impl Committed {
    /// True when a profile changed, appeared or was removed.
    pub fn changed(&self) -> bool {
        !self.changed_users.is_empty()
            || !self.changed_devices.is_empty()
            || !self.removed_users.is_empty()
            || !self.removed_devices.is_empty()
    }
}

/// Where the sync resumes: what the last committed refresh left.
#[derive(Debug, Default, Clone)]
pub struct SyncState {
    /// Store version (0: never synced).
    pub version: u64,
    /// When the last refresh started.
    pub synced_at: Option<DateTime<Utc>>,
    /// `lastUpdated` of the newest user.
    pub users_cursor: Option<String>,
    /// `lastUpdated` of the newest device.
    pub devices_cursor: Option<String>,
    /// When the last full pull (every user and device, deletions found) started.
    pub full_synced_at: Option<DateTime<Utc>>,
    /// Stored groups by id (their members are read again only when
    /// `lastMembershipUpdated` changed).
    pub groups: HashMap<String, GroupRecord>,
}

/// The embedded profile store of one source.
pub struct ProfileStore {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for ProfileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain records to a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

impl ProfileStore {
    /// Opens (or creates) the store file `path` (see [`store_file_name`]).
    pub fn open(path: &Path) -> Result<ProfileStore, EnrichError> {
        let path = path.to_path_buf();
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| EnrichError::Open {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        let store = ProfileStore { db, path };
        // Create the tables once so readers never meet a missing table.
        store.write(|tx| {
            tx.open_table(USERS)?;
            tx.open_table(GROUPS)?;
            tx.open_table(ROLES)?;
            tx.open_table(DEVICES)?;
            tx.open_table(META)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> EnrichError {
        EnrichError::Store {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, EnrichError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        let value = f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(value)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, EnrichError> {
        serde_json::from_slice(bytes).map_err(|e| self.err(format!("corrupt record: {e}")))
    }

    /// Where the next refresh resumes.
    pub fn sync_state(&self) -> Result<SyncState, EnrichError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = tx.open_table(META).map_err(|e| self.err(e))?;
        let get = |key: &str| -> Result<Option<String>, EnrichError> {
            Ok(meta
                .get(key)
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_string()))
        };
        let version = get(META_VERSION)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let synced_at = get(META_SYNCED_AT)?.and_then(|t| t.parse().ok());
        let users_cursor = get(META_USERS_CURSOR)?;
        let devices_cursor = get(META_DEVICES_CURSOR)?;
        let full_synced_at = get(META_FULL_SYNCED_AT)?.and_then(|t| t.parse().ok());
        let groups_table = tx.open_table(GROUPS).map_err(|e| self.err(e))?;
        let mut groups = HashMap::new();
        for entry in groups_table.iter().map_err(|e| self.err(e))? {
            let (id, value) = entry.map_err(|e| self.err(e))?;
            let group: GroupRecord = self.decode(value.value())?;
            groups.insert(id.value().to_string(), group);
        }
        Ok(SyncState {
            version,
            synced_at,
            users_cursor,
            devices_cursor,
            full_synced_at,
            groups,
        })
    }

    /// Commits one refresh atomically and says what changed.
    pub fn commit(&self, refresh: &Refresh) -> Result<Committed, EnrichError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut changed_users = BTreeSet::new();
        let mut changed_devices = Vec::new();
        let mut removed_users = Vec::new();
        let mut removed_devices = Vec::new();
        let version;
        {
            let mut users = tx.open_table(USERS).map_err(|e| self.err(e))?;
            if refresh.users_complete {
                removed_users =
                    self.missing(&users, refresh.users.iter().map(|u| u.id.as_str()))?;
                for id in &removed_users {
                    users.remove(id.as_str()).map_err(|e| self.err(e))?;
                }
            }
            for user in &refresh.users {
                let bytes = to_json(user);
                let old = users
                    .insert(user.id.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
                if old.is_none_or(|old| old.value() != bytes.as_slice()) {
                    changed_users.insert(user.id.clone());
                }
            }
            if let Some(groups) = &refresh.groups {
                let mut table = tx.open_table(GROUPS).map_err(|e| self.err(e))?;
                let mut old_members: HashMap<String, BTreeSet<String>> = HashMap::new();
                for entry in table.iter().map_err(|e| self.err(e))? {
                    let (_, value) = entry.map_err(|e| self.err(e))?;
                    let group: GroupRecord = self.decode(value.value())?;
                    for m in group.members {
                        old_members.entry(m).or_default().insert(group.name.clone());
                    }
                }
                table.retain(|_, _| false).map_err(|e| self.err(e))?;
                let mut new_members: HashMap<String, BTreeSet<String>> = HashMap::new();
                for group in groups {
                    table
                        .insert(group.id.as_str(), to_json(group).as_slice())
                        .map_err(|e| self.err(e))?;
                    for m in &group.members {
                        new_members
                            .entry(m.clone())
                            .or_default()
                            .insert(group.name.clone());
                    }
                }
                for (user, names) in &new_members {
                    if old_members.get(user) != Some(names) {
                        changed_users.insert(user.clone());
                    }
                }
                for user in old_members.keys() {
                    if !new_members.contains_key(user) {
                        changed_users.insert(user.clone());
                    }
                }
            }
            if let Some(roles) = &refresh.roles {
                let mut table = tx.open_table(ROLES).map_err(|e| self.err(e))?;
                let mut old: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for entry in table.iter().map_err(|e| self.err(e))? {
                    let (id, value) = entry.map_err(|e| self.err(e))?;
                    old.insert(id.value().to_string(), self.decode(value.value())?);
                }
                table.retain(|_, _| false).map_err(|e| self.err(e))?;
                for (user, names) in roles {
                    table
                        .insert(user.as_str(), to_json(names).as_slice())
                        .map_err(|e| self.err(e))?;
                    if old.get(user) != Some(names) {
                        changed_users.insert(user.clone());
                    }
                }
                changed_users.extend(old.into_keys().filter(|u| !roles.contains_key(u)));
            }
            let mut devices = tx.open_table(DEVICES).map_err(|e| self.err(e))?;
            if refresh.devices_complete {
                removed_devices =
                    self.missing(&devices, refresh.devices.iter().map(|d| d.id.as_str()))?;
                for id in &removed_devices {
                    devices.remove(id.as_str()).map_err(|e| self.err(e))?;
                }
            }
            for device in &refresh.devices {
                let bytes = to_json(device);
                let old = devices
                    .insert(device.id.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
                if old.is_none_or(|old| old.value() != bytes.as_slice()) {
                    changed_devices.push(device.id.clone());
                }
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            let previous = meta
                .get(META_VERSION)
                .map_err(|e| self.err(e))?
                .and_then(|v| v.value().parse::<u64>().ok())
                .unwrap_or(0);
            version = previous + 1;
            meta.insert(META_VERSION, version.to_string().as_str())
                .map_err(|e| self.err(e))?;
            if let Some(t) = refresh.synced_at {
                meta.insert(
                    META_SYNCED_AT,
                    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                        .as_str(),
                )
                .map_err(|e| self.err(e))?;
            }
            if refresh.users_complete || refresh.devices_complete {
                if let Some(t) = refresh.synced_at {
                    meta.insert(
                        META_FULL_SYNCED_AT,
                        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                            .as_str(),
                    )
                    .map_err(|e| self.err(e))?;
                }
            }
            if let Some(c) = &refresh.users_cursor {
                meta.insert(META_USERS_CURSOR, c.as_str())
                    .map_err(|e| self.err(e))?;
            }
            if let Some(c) = &refresh.devices_cursor {
                meta.insert(META_DEVICES_CURSOR, c.as_str())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Committed {
            version,
            changed_users: changed_users
                .into_iter()
                .filter(|u| removed_users.binary_search(u).is_err())
                .collect(),
            changed_devices,
            removed_users,
            removed_devices,
        })
    }

    /// The sorted keys of `table` that are not in `listed`.
    fn missing<'l>(
        &self,
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        listed: impl Iterator<Item = &'l str>,
    ) -> Result<Vec<String>, EnrichError> {
        let listed: std::collections::HashSet<&str> = listed.collect();
        let mut missing = Vec::new();
        for entry in table.iter().map_err(|e| self.err(e))? {
            let (id, _) = entry.map_err(|e| self.err(e))?;
            if !listed.contains(id.value()) {
                missing.push(id.value().to_string());
            }
        }
        // redb iterates in key order: sorted.
        Ok(missing)
    }

    /// One stored user.
    pub fn user(&self, id: &str) -> Result<Option<UserRecord>, EnrichError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(USERS).map_err(|e| self.err(e))?;
        match table.get(id).map_err(|e| self.err(e))? {
            Some(v) => Ok(Some(self.decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Numbers of stored users and devices.
    pub fn counts(&self) -> Result<(u64, u64), EnrichError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let users = tx.open_table(USERS).map_err(|e| self.err(e))?;
        let devices = tx.open_table(DEVICES).map_err(|e| self.err(e))?;
        Ok((
            users.len().map_err(|e| self.err(e))?,
            devices.len().map_err(|e| self.err(e))?,
        ))
    }

    /// The in-memory snapshot the normalizer joins: every user with its group names
    /// (shared strings) and roles, every device. `users`/`devices` say what is enabled.
    pub fn snapshot(&self, users: bool, devices: bool) -> Result<Profiles, EnrichError> {
        let state_tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut profiles = Profiles::new(users, devices);
        let meta = state_tx.open_table(META).map_err(|e| self.err(e))?;
        profiles.version = meta
            .get(META_VERSION)
            .map_err(|e| self.err(e))?
            .and_then(|v| v.value().parse().ok())
            .unwrap_or(0);
        profiles.as_of = meta
            .get(META_SYNCED_AT)
            .map_err(|e| self.err(e))?
            .and_then(|v| v.value().parse().ok());
        if users {
            let mut groups_of: HashMap<String, Vec<Arc<str>>> = HashMap::new();
            let groups = state_tx.open_table(GROUPS).map_err(|e| self.err(e))?;
            for entry in groups.iter().map_err(|e| self.err(e))? {
                let (_, value) = entry.map_err(|e| self.err(e))?;
                let group: GroupRecord = self.decode(value.value())?;
                let name: Arc<str> = Arc::from(group.name.as_str());
                for m in group.members {
                    groups_of.entry(m).or_default().push(Arc::clone(&name));
                }
            }
            let mut role_names: HashMap<String, Arc<str>> = HashMap::new();
            let mut roles_of: HashMap<String, Vec<Arc<str>>> = HashMap::new();
            let roles = state_tx.open_table(ROLES).map_err(|e| self.err(e))?;
            for entry in roles.iter().map_err(|e| self.err(e))? {
                let (id, value) = entry.map_err(|e| self.err(e))?;
                let names: Vec<String> = self.decode(value.value())?;
                let shared = names
                    .into_iter()
                    .map(|n| {
                        Arc::clone(
                            role_names
                                .entry(n.clone())
                                .or_insert_with(|| Arc::from(n.as_str())),
                        )
                    })
                    .collect();
                roles_of.insert(id.value().to_string(), shared);
            }
            let table = state_tx.open_table(USERS).map_err(|e| self.err(e))?;
            for entry in table.iter().map_err(|e| self.err(e))? {
                let (id, value) = entry.map_err(|e| self.err(e))?;
                let mut groups = groups_of.remove(id.value()).unwrap_or_default();
                groups.shrink_to_fit();
                let roles = roles_of.remove(id.value()).unwrap_or_default();
                // Borrowed from the stored bytes (no string copied twice); a value with an
                // escaped character cannot borrow and is decoded owned.
                match serde_json::from_slice::<UserText<'_>>(value.value()) {
                    Ok(u) => profiles.insert_user_text(u.fields(), groups, roles),
                    Err(_) => {
                        let u: UserRecord = self.decode(value.value())?;
                        profiles.insert_user_text(UserText::from(&u).fields(), groups, roles);
                    }
                }
            }
        }
        if devices {
            let table = state_tx.open_table(DEVICES).map_err(|e| self.err(e))?;
            for entry in table.iter().map_err(|e| self.err(e))? {
                let (_, value) = entry.map_err(|e| self.err(e))?;
                let owned: DeviceRecord;
                let d = match serde_json::from_slice::<DeviceText<'_>>(value.value()) {
                    Ok(d) => d,
                    Err(_) => {
                        owned = self.decode(value.value())?;
                        DeviceText::from(&owned)
                    }
                };
                profiles.insert_device_text(
                    [
                        Some(d.id),
                        d.name,
                        d.platform,
                        d.model,
                        d.manufacturer,
                        d.os_version,
                        d.status,
                        d.last_updated,
                    ],
                    &d.users,
                    d.managed,
                    d.registered,
                );
            }
        }
        Ok(profiles)
    }
}

/// A stored [`UserRecord`] borrowed from its bytes (what the snapshot reads).
#[derive(serde::Deserialize)]
struct UserText<'a> {
    id: &'a str,
    #[serde(default)]
    login: Option<&'a str>,
    #[serde(default)]
    email: Option<&'a str>,
    #[serde(default)]
    first_name: Option<&'a str>,
    #[serde(default)]
    last_name: Option<&'a str>,
    #[serde(default)]
    display_name: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
    #[serde(default)]
    department: Option<&'a str>,
    #[serde(default)]
    title: Option<&'a str>,
    #[serde(default)]
    manager: Option<&'a str>,
    #[serde(default)]
    employee_number: Option<&'a str>,
    #[serde(default)]
    organization: Option<&'a str>,
    #[serde(default)]
    last_updated: Option<&'a str>,
}

impl<'a> UserText<'a> {
    /// The fields in the order of [`Profiles::insert_user_text`].
    fn fields(&self) -> [Option<&'a str>; 13] {
        [
            Some(self.id),
            self.login,
            self.email,
            self.first_name,
            self.last_name,
            self.display_name,
            self.status,
            self.department,
            self.title,
            self.manager,
            self.employee_number,
            self.organization,
            self.last_updated,
        ]
    }
}

impl<'a> From<&'a UserRecord> for UserText<'a> {
    fn from(u: &'a UserRecord) -> Self {
        UserText {
            id: &u.id,
            login: u.login.as_deref(),
            email: u.email.as_deref(),
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            display_name: u.display_name.as_deref(),
            status: u.status.as_deref(),
            department: u.department.as_deref(),
            title: u.title.as_deref(),
            manager: u.manager.as_deref(),
            employee_number: u.employee_number.as_deref(),
            organization: u.organization.as_deref(),
            last_updated: u.last_updated.as_deref(),
        }
    }
}

/// A stored [`DeviceRecord`] borrowed from its bytes.
#[derive(serde::Deserialize)]
struct DeviceText<'a> {
    id: &'a str,
    #[serde(default)]
    name: Option<&'a str>,
    #[serde(default)]
    platform: Option<&'a str>,
    #[serde(default)]
    model: Option<&'a str>,
    #[serde(default)]
    manufacturer: Option<&'a str>,
    #[serde(default)]
    os_version: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
    #[serde(default)]
    managed: Option<bool>,
    #[serde(default)]
    registered: Option<bool>,
    #[serde(default)]
    users: Vec<&'a str>,
    #[serde(default)]
    last_updated: Option<&'a str>,
}

impl<'a> From<&'a DeviceRecord> for DeviceText<'a> {
    fn from(d: &'a DeviceRecord) -> Self {
        DeviceText {
            id: &d.id,
            name: d.name.as_deref(),
            platform: d.platform.as_deref(),
            model: d.model.as_deref(),
            manufacturer: d.manufacturer.as_deref(),
            os_version: d.os_version.as_deref(),
            status: d.status.as_deref(),
            managed: d.managed,
            registered: d.registered,
            users: d.users.iter().map(String::as_str).collect(),
            last_updated: d.last_updated.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, department: &str) -> UserRecord {
        UserRecord {
            id: id.into(),
            login: Some(format!("{id}@example.com")),
            email: None,
            first_name: None,
            last_name: None,
            display_name: None,
            status: Some("ACTIVE".into()),
            department: Some(department.into()),
            title: None,
            manager: None,
            employee_number: None,
            organization: None,
            last_updated: Some("2024-05-01T10:00:00.000Z".into()),
        }
    }

    #[test]
    fn commits_survive_reopening_and_report_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = ProfileStore::open(&dir.path().join(STORE_FILE)).expect("open");
            let committed = store
                .commit(&Refresh {
                    users: vec![user("00u1", "Sales"), user("00u2", "IT")],
                    users_cursor: Some("2024-05-01T10:00:00.000Z".into()),
                    groups: Some(vec![GroupRecord {
                        id: "00g1".into(),
                        name: "Everyone".into(),
                        last_membership_updated: None,
                        members: vec!["00u1".into(), "00u2".into()],
                    }]),
                    roles: Some(BTreeMap::from([(
                        "00u2".to_string(),
                        vec!["SUPER_ADMIN".to_string()],
                    )])),
                    ..Refresh::default()
                })
                .expect("commit");
            assert_eq!(committed.version, 1);
            assert_eq!(committed.changed_users, ["00u1", "00u2"]);
        }
        let store = ProfileStore::open(&dir.path().join(STORE_FILE)).expect("reopen");
        let state = store.sync_state().expect("state");
        assert_eq!(state.version, 1);
        assert_eq!(
            state.users_cursor.as_deref(),
            Some("2024-05-01T10:00:00.000Z")
        );
        // Same data again: nothing changed but the department of one user.
        let committed = store
            .commit(&Refresh {
                users: vec![user("00u1", "Finance"), user("00u2", "IT")],
                roles: Some(BTreeMap::from([(
                    "00u2".to_string(),
                    vec!["SUPER_ADMIN".to_string()],
                )])),
                ..Refresh::default()
            })
            .expect("commit");
        assert_eq!(committed.version, 2);
        assert_eq!(committed.changed_users, ["00u1"]);
        let snapshot = store.snapshot(true, true).expect("snapshot");
        let u2 = snapshot.user("00u2").expect("u2");
        assert!(u2.privileged());
        assert_eq!(&*u2.groups()[0], "Everyone");
        assert_eq!(
            snapshot.user("00u1").and_then(|u| u.department()),
            Some("Finance")
        );
    }

    #[test]
    fn an_uncommitted_refresh_leaves_the_last_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ProfileStore::open(&dir.path().join(STORE_FILE)).expect("open");
        store
            .commit(&Refresh {
                users: vec![user("00u1", "Sales")],
                ..Refresh::default()
            })
            .expect("commit");
        // A write transaction dropped without commit (what a kill leaves) changes nothing.
        {
            let tx = store.db.begin_write().expect("tx");
            let mut users = tx.open_table(USERS).expect("table");
            users
                .insert("00u1", to_json(&user("00u1", "Legal")).as_slice())
                .expect("insert");
        }
        drop(store);
        let store = ProfileStore::open(&dir.path().join(STORE_FILE)).expect("reopen");
        assert_eq!(
            store.user("00u1").expect("read").and_then(|u| u.department),
            Some("Sales".into())
        );
    }

    #[test]
    fn the_snapshot_reads_escaped_and_plain_values_alike() {
        // Values with an escaped character cannot be borrowed from the stored bytes: they
        // take the owned path, and the snapshot holds the same text.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ProfileStore::open(&dir.path().join(STORE_FILE)).expect("open");
        let device = |id: &str, name: &str| DeviceRecord {
            id: id.into(),
            name: Some(name.into()),
            platform: Some("WINDOWS".into()),
            model: None,
            manufacturer: None,
            os_version: None,
            status: Some("ACTIVE".into()),
            managed: Some(true),
            registered: None,
            users: vec!["00u1".into(), "00u2".into()],
            last_updated: None,
        };
        store
            .commit(&Refresh {
                users: vec![user("00u1", "R\"&\"D \\ Labs"), user("00u2", "Zoë's team")],
                devices: vec![
                    device("guo1", "Jane\u{1}\"s laptop"),
                    device("guo2", "plain"),
                ],
                ..Refresh::default()
            })
            .expect("commit");
        let snapshot = store.snapshot(true, true).expect("snapshot");
        let department = |id: &str| snapshot.user(id).and_then(|u| u.department());
        assert_eq!(department("00u1"), Some("R\"&\"D \\ Labs"));
        assert_eq!(department("00u2"), Some("Zoë's team"));
        let escaped = snapshot.device("guo1").expect("guo1");
        assert_eq!(escaped.name(), Some("Jane\u{1}\"s laptop"));
        assert_eq!(escaped.users().collect::<Vec<_>>(), ["00u1", "00u2"]);
        assert_eq!(escaped.managed(), Some(true));
        assert_eq!(
            snapshot.device("guo2").and_then(|d| d.name()),
            Some("plain")
        );
    }
}

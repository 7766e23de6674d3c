//! Identity enrichment data: the user and device profiles joined onto events.
//!
//! Pure data, no I/O: whoever owns a profile store (the `oktaflow-enrich` crate) builds a
//! [`Profiles`] snapshot and hands it to the [`Normalizer`](crate::Normalizer)
//! ([`Normalizer::set_profiles`](crate::Normalizer::set_profiles)). The normalizer only reads
//! it: looking a user or device up is a hash-map probe, never a wait.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

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
#[derive(Debug, Default)]
pub struct Profiles {
    /// Refresh generation of the store this snapshot was taken from.
    pub version: u64,
    /// When the data of this snapshot was last synced from Okta.
    pub as_of: Option<DateTime<Utc>>,
    /// Whether users are enriched (an unknown user is only reported when true).
    pub users_enabled: bool,
    /// Whether devices are enriched (an unknown device is only reported when true).
    pub devices_enabled: bool,
    // Sets keyed by the id at the start of each packed text: a lookup reads the profile's
    // own text, no separate key allocation.
    users: HashSet<PackedUser, IdHash>,
    devices: HashSet<PackedDevice, IdHash>,
    /// `as_of` as written into documents, formatted once (with the value it was made from).
    as_of_text: OnceLock<(Option<DateTime<Utc>>, Box<str>)>,
    /// Lookups counted by the normalizer (shared by every snapshot of one store).
    counters: Arc<LookupCounters>,
}

/// How many user and device lookups found a profile, counted as events are normalized.
///
/// One set is shared by the successive snapshots of a store
/// ([`Profiles::set_counters`]), so the totals survive refreshes; relaxed atomic adds, read
/// with [`LookupCounters::counts`].
#[derive(Debug, Default)]
pub struct LookupCounters {
    user_hits: AtomicU64,
    user_misses: AtomicU64,
    device_hits: AtomicU64,
    device_misses: AtomicU64,
}

/// Totals of a [`LookupCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupCounts {
    /// User ids found in the snapshot.
    pub user_hits: u64,
    /// User ids not in the snapshot (the document says `known: false`).
    pub user_misses: u64,
    /// Device ids found.
    pub device_hits: u64,
    /// Device ids not in the snapshot.
    pub device_misses: u64,
}

impl LookupCounters {
    /// The totals now.
    pub fn counts(&self) -> LookupCounts {
        LookupCounts {
            user_hits: self.user_hits.load(Ordering::Relaxed),
            user_misses: self.user_misses.load(Ordering::Relaxed),
            device_hits: self.device_hits.load(Ordering::Relaxed),
            device_misses: self.device_misses.load(Ordering::Relaxed),
        }
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl LookupCounts {
    /// What was counted between `earlier` and `self` (saturating).
    pub fn since(&self, earlier: &LookupCounts) -> LookupCounts {
        LookupCounts {
            user_hits: self.user_hits.saturating_sub(earlier.user_hits),
            user_misses: self.user_misses.saturating_sub(earlier.user_misses),
            device_hits: self.device_hits.saturating_sub(earlier.device_hits),
            device_misses: self.device_misses.saturating_sub(earlier.device_misses),
        }
    }

    /// True when nothing was counted.
    pub fn is_zero(&self) -> bool {
        *self == LookupCounts::default()
    }
}

impl Clone for Profiles {
    /// A copy to change (e.g. a new `version`/`as_of` for the same profiles): its `as_of` is
    /// formatted again on first use.
    fn clone(&self) -> Profiles {
        Profiles {
            version: self.version,
            as_of: self.as_of,
            users_enabled: self.users_enabled,
            devices_enabled: self.devices_enabled,
            users: self.users.clone(),
            devices: self.devices.clone(),
            as_of_text: OnceLock::new(),
            counters: Arc::clone(&self.counters),
        }
    }
}

/// Okta ids are short, random and come from Okta itself: a multiply-rotate hash (as
/// rustc's `FxHasher`) costs a fraction of the default SipHash per lookup.
type IdHash = BuildHasherDefault<IdHasher>;

/// The hasher of [`IdHash`].
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        // hashbrown takes its control byte from the top bits: fold the low ones in.
        self.0 ^ (self.0 >> 29)
    }
}

/// The text fields of a user, in [`PackedUser::text`] order.
const USER_FIELDS: usize = 13;
/// The text fields of a device, in [`PackedDevice::text`] order (the last: user ids, `,`-joined).
const DEVICE_FIELDS: usize = 9;

/// A user as the snapshot keeps it: every text field in one allocation (a lookup touches a
/// few cache lines instead of one allocation per field), group and role names shared.
#[derive(Debug, Clone)]
struct PackedUser {
    text: Box<str>,
    ends: [u32; USER_FIELDS],
    groups: Box<[Arc<str>]>,
    roles: Box<[Arc<str>]>,
    /// The details object as documents carry it, rendered the first time an event needs it
    /// (only users that occur in events pay its memory).
    rendered: OnceLock<Box<str>>,
}

/// A device as the snapshot keeps it (see [`PackedUser`]).
#[derive(Debug, Clone)]
struct PackedDevice {
    text: Box<str>,
    ends: [u32; DEVICE_FIELDS],
    managed: Option<bool>,
    registered: Option<bool>,
    /// As [`PackedUser::rendered`].
    rendered: OnceLock<Box<str>>,
}

impl PackedUser {
    fn id(&self) -> &str {
        field(&self.text, &self.ends, 0).unwrap_or("")
    }
}

impl PackedDevice {
    fn id(&self) -> &str {
        field(&self.text, &self.ends, 0).unwrap_or("")
    }
}

macro_rules! keyed_by_id {
    ($t:ty) => {
        impl Borrow<str> for $t {
            fn borrow(&self) -> &str {
                self.id()
            }
        }
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.id() == other.id()
            }
        }
        impl Eq for $t {}
        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                // As `str` hashes, so that lookups by `&str` find it.
                self.id().hash(state)
            }
        }
    };
}
keyed_by_id!(PackedUser);
keyed_by_id!(PackedDevice);

/// Concatenates `fields` (`None` and empty alike: absent) and their end offsets.
fn pack<const N: usize>(fields: [Option<&str>; N]) -> (Box<str>, [u32; N]) {
    let mut text = String::with_capacity(fields.iter().flatten().map(|f| f.len()).sum());
    let mut ends = [0u32; N];
    for (i, field) in fields.iter().enumerate() {
        text.push_str(field.unwrap_or(""));
        ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
    }
    (text.into_boxed_str(), ends)
}

/// Field `i` of a packed text (`None` when empty).
fn field<'t>(text: &'t str, ends: &[u32], i: usize) -> Option<&'t str> {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    text.get(start..ends[i] as usize).filter(|f| !f.is_empty())
}

/// A user of a [`Profiles`] snapshot (read-only view).
#[derive(Debug, Clone, Copy)]
pub struct User<'p>(&'p PackedUser);

impl<'p> User<'p> {
    fn get(&self, i: usize) -> Option<&'p str> {
        field(&self.0.text, &self.0.ends, i)
    }
    /// Okta user id.
    pub fn id(&self) -> &'p str {
        self.get(0).unwrap_or("")
    }
    /// `profile.login`.
    pub fn login(&self) -> Option<&'p str> {
        self.get(1)
    }
    /// `profile.email`.
    pub fn email(&self) -> Option<&'p str> {
        self.get(2)
    }
    /// `profile.firstName`.
    pub fn first_name(&self) -> Option<&'p str> {
        self.get(3)
    }
    /// `profile.lastName`.
    pub fn last_name(&self) -> Option<&'p str> {
        self.get(4)
    }
    /// `profile.displayName`.
    pub fn display_name(&self) -> Option<&'p str> {
        self.get(5)
    }
    /// Lifecycle status.
    pub fn status(&self) -> Option<&'p str> {
        self.get(6)
    }
    /// `profile.department`.
    pub fn department(&self) -> Option<&'p str> {
        self.get(7)
    }
    /// `profile.title`.
    pub fn title(&self) -> Option<&'p str> {
        self.get(8)
    }
    /// `profile.manager`.
    pub fn manager(&self) -> Option<&'p str> {
        self.get(9)
    }
    /// `profile.employeeNumber`.
    pub fn employee_number(&self) -> Option<&'p str> {
        self.get(10)
    }
    /// `profile.organization`.
    pub fn organization(&self) -> Option<&'p str> {
        self.get(11)
    }
    /// `lastUpdated`.
    pub fn last_updated(&self) -> Option<&'p str> {
        self.get(12)
    }
    /// Group names.
    pub fn groups(&self) -> &'p [Arc<str>] {
        &self.0.groups
    }
    /// Admin roles.
    pub fn roles(&self) -> &'p [Arc<str>] {
        &self.0.roles
    }
    /// True when the user holds at least one admin role.
    pub fn privileged(&self) -> bool {
        !self.0.roles.is_empty()
    }
}

/// A device of a [`Profiles`] snapshot (read-only view).
#[derive(Debug, Clone, Copy)]
pub struct Device<'p>(&'p PackedDevice);

impl<'p> Device<'p> {
    fn get(&self, i: usize) -> Option<&'p str> {
        field(&self.0.text, &self.0.ends, i)
    }
    /// Okta device id.
    pub fn id(&self) -> &'p str {
        self.get(0).unwrap_or("")
    }
    /// `profile.displayName`.
    pub fn name(&self) -> Option<&'p str> {
        self.get(1)
    }
    /// `profile.platform`.
    pub fn platform(&self) -> Option<&'p str> {
        self.get(2)
    }
    /// `profile.model`.
    pub fn model(&self) -> Option<&'p str> {
        self.get(3)
    }
    /// `profile.manufacturer`.
    pub fn manufacturer(&self) -> Option<&'p str> {
        self.get(4)
    }
    /// `profile.osVersion`.
    pub fn os_version(&self) -> Option<&'p str> {
        self.get(5)
    }
    /// Lifecycle status.
    pub fn status(&self) -> Option<&'p str> {
        self.get(6)
    }
    /// `lastUpdated`.
    pub fn last_updated(&self) -> Option<&'p str> {
        self.get(7)
    }
    /// Ids of its users.
    pub fn users(&self) -> impl Iterator<Item = &'p str> {
        self.get(8).into_iter().flat_map(|u| u.split(','))
    }
    /// Managed for any of its users.
    pub fn managed(&self) -> Option<bool> {
        self.0.managed
    }
    /// `profile.registered`.
    pub fn registered(&self) -> Option<bool> {
        self.0.registered
    }
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
        self.insert_user_text(
            [
                Some(&*user.id),
                user.login.as_deref(),
                user.email.as_deref(),
                user.first_name.as_deref(),
                user.last_name.as_deref(),
                user.display_name.as_deref(),
                user.status.as_deref(),
                user.department.as_deref(),
                user.title.as_deref(),
                user.manager.as_deref(),
                user.employee_number.as_deref(),
                user.organization.as_deref(),
                user.last_updated.as_deref(),
            ],
            user.groups,
            user.roles,
        );
    }

    /// Adds (or replaces) a user from borrowed text (no copy but the snapshot's own):
    /// `fields` in [`UserProfile`] order, `id` first, `login` ... `last_updated`.
    pub fn insert_user_text(
        &mut self,
        fields: [Option<&str>; 13],
        groups: Vec<Arc<str>>,
        roles: Vec<Arc<str>>,
    ) {
        let (text, ends) = pack(fields);
        let packed = PackedUser {
            text,
            ends,
            groups: groups.into_boxed_slice(),
            roles: roles.into_boxed_slice(),
            rendered: OnceLock::new(),
        };
        self.users.replace(packed);
    }

    /// Adds (or replaces) a device.
    pub fn insert_device(&mut self, device: DeviceProfile) {
        let users: Vec<&str> = device.users.iter().map(|u| &**u).collect();
        self.insert_device_text(
            [
                Some(&*device.id),
                device.name.as_deref(),
                device.platform.as_deref(),
                device.model.as_deref(),
                device.manufacturer.as_deref(),
                device.os_version.as_deref(),
                device.status.as_deref(),
                device.last_updated.as_deref(),
            ],
            &users,
            device.managed,
            device.registered,
        );
    }

    /// Adds (or replaces) a device from borrowed text: `fields` in [`DeviceProfile`] order
    /// (`id`, `name`, `platform`, `model`, `manufacturer`, `os_version`, `status`,
    /// `last_updated`), then its users' ids.
    pub fn insert_device_text(
        &mut self,
        fields: [Option<&str>; 8],
        users: &[&str],
        managed: Option<bool>,
        registered: Option<bool>,
    ) {
        let users = users.join(",");
        let [id, name, platform, model, manufacturer, os_version, status, last_updated] = fields;
        let (text, ends) = pack([
            id,
            name,
            platform,
            model,
            manufacturer,
            os_version,
            status,
            last_updated,
            Some(users.as_str()),
        ]);
        let packed = PackedDevice {
            text,
            ends,
            managed,
            registered,
            rendered: OnceLock::new(),
        };
        self.devices.replace(packed);
    }

    /// The user with Okta id `id`.
    pub fn user(&self, id: &str) -> Option<User<'_>> {
        self.users.get(id).map(User)
    }

    /// The device with Okta id `id`.
    pub fn device(&self, id: &str) -> Option<Device<'_>> {
        self.devices.get(id).map(Device)
    }

    /// Counts this snapshot's lookups in `counters` (e.g. the set of the snapshot it
    /// replaces, so that totals run on across refreshes).
    pub fn set_counters(&mut self, counters: Arc<LookupCounters>) {
        self.counters = counters;
    }

    /// The lookup counters of this snapshot.
    pub fn counters(&self) -> &Arc<LookupCounters> {
        &self.counters
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Number of devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// `as_of` as documents carry it (RFC 3339, milliseconds), formatted once per snapshot.
    fn as_of_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        let format = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let as_of = self.as_of?;
        let (from, text) = self
            .as_of_text
            .get_or_init(|| (Some(as_of), format(as_of).into_boxed_str()));
        Some(if *from == Some(as_of) {
            std::borrow::Cow::Borrowed(&**text)
        } else {
            // `as_of` was changed after the first document: format it each time.
            std::borrow::Cow::Owned(format(as_of))
        })
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
    Found(User<'p>),
    /// Enrichment on, user not in the store.
    Unknown,
}

impl Profiles {
    pub(crate) fn lookup_user(&self, id: Option<&str>) -> UserLookup<'_> {
        match id {
            Some(id) if self.users_enabled => match self.user(id) {
                Some(p) => {
                    LookupCounters::count(&self.counters.user_hits);
                    UserLookup::Found(p)
                }
                None => {
                    LookupCounters::count(&self.counters.user_misses);
                    UserLookup::Unknown
                }
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
            let rendered =
                p.0.rendered
                    .get_or_init(|| render(|w| write_user_members(w, *p)));
            w.raw_object(key, rendered);
        }
    }
}

/// Writes an array at `key` with the details of every user in `ids` (an event's `User`
/// targets, in the event's order; an unknown one as `{"known":false}`); nothing when users
/// are not enriched or `ids` is empty.
pub(crate) fn write_users_details<'i>(
    w: &mut JsonWriter<'_>,
    key: Key<'_>,
    profiles: &Profiles,
    ids: impl IntoIterator<Item = &'i str>,
) {
    if !profiles.users_enabled {
        return;
    }
    w.open_array(key);
    for id in ids {
        write_user_details(w, k!(""), &profiles.lookup_user(Some(id)));
    }
    w.close();
}

/// Renders one details object (`{...}`) with `members`.
fn render(members: impl FnOnce(&mut JsonWriter<'_>)) -> Box<str> {
    let mut out = Vec::with_capacity(512);
    let mut w = JsonWriter::new(&mut out);
    members(&mut w);
    w.finish();
    // The writer only writes UTF-8 (keys are literals, values `&str`s escaped).
    String::from_utf8(out).unwrap_or_default().into_boxed_str()
}

/// The members of a known user's details object.
fn write_user_members(w: &mut JsonWriter<'_>, p: User<'_>) {
    w.bool(k!("known"), Some(true));
    w.str(k!("id"), Some(p.id()));
    w.str(k!("login"), p.login());
    w.str(k!("email"), p.email());
    w.str(k!("first_name"), p.first_name());
    w.str(k!("last_name"), p.last_name());
    w.str(k!("display_name"), p.display_name());
    w.str(k!("status"), p.status());
    w.str(k!("department"), p.department());
    w.str(k!("title"), p.title());
    w.str(k!("manager"), p.manager());
    w.str(k!("employee_number"), p.employee_number());
    w.str(k!("organization"), p.organization());
    w.str(k!("last_updated"), p.last_updated());
    w.str_array(k!("groups"), p.groups().iter().map(|g| g.as_ref()));
    w.str_array(k!("roles"), p.roles().iter().map(|r| r.as_ref()));
    w.bool(k!("privileged"), Some(p.privileged()));
}

/// How a device id resolved against the snapshot.
pub(crate) enum DeviceLookup<'p> {
    /// Enrichment off (or no id).
    Off,
    /// Known device.
    Found(Device<'p>),
    /// Enrichment on, device not in the store.
    Unknown,
}

impl Profiles {
    pub(crate) fn lookup_device(&self, id: Option<&str>) -> DeviceLookup<'_> {
        match id {
            Some(id) if self.devices_enabled => match self.device(id) {
                Some(p) => {
                    LookupCounters::count(&self.counters.device_hits);
                    DeviceLookup::Found(p)
                }
                None => {
                    LookupCounters::count(&self.counters.device_misses);
                    DeviceLookup::Unknown
                }
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
            let rendered =
                d.0.rendered
                    .get_or_init(|| render(|w| write_device_members(w, *d)));
            w.raw_object(key, rendered);
        }
    }
}

/// The members of a known device's details object.
fn write_device_members(w: &mut JsonWriter<'_>, d: Device<'_>) {
    w.bool(k!("known"), Some(true));
    w.str(k!("id"), Some(d.id()));
    w.str(k!("name"), d.name());
    w.str(k!("platform"), d.platform());
    w.str(k!("model"), d.model());
    w.str(k!("manufacturer"), d.manufacturer());
    w.str(k!("os_version"), d.os_version());
    w.str(k!("status"), d.status());
    w.bool(k!("managed"), d.managed());
    w.bool(k!("registered"), d.registered());
    w.str_array(k!("users"), d.users());
    w.str(k!("last_updated"), d.last_updated());
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
    w.str(k!("as_of"), profiles.as_of_text().as_deref());
    w.u64(k!("age_s"), profiles.age_at(event_time));
    w.close();
}

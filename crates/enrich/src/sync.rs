//! [`Enricher`]: reads users, groups, admin roles and devices from Okta into the
//! [`ProfileStore`] and publishes the snapshot the normalizer joins ([`ProfileHandle`]).
//!
//! * **Incremental**: users and devices after the first pull are read with
//!   `search=lastUpdated gt "<newest seen>"`; groups' members only when the group's
//!   `lastMembershipUpdated` changed; admin role assignments (few) in full each refresh
//!   (a role grant does not change the user's `lastUpdated`).
//! * **Rate share**: one [`Pacer`] per endpoint family (Okta counts each endpoint alone),
//!   each at `rate_limit_share` (default 20 %) of the limit its responses announce, slowing
//!   down when `X-Rate-Limit-Remaining` runs low and holding after a 429.
//! * **Polling priority**: the System Log client keeps its own pacer and budget (another
//!   endpoint); the sync sends one request at a time, so the log fetch never waits for more
//!   than one enrichment request on a shared connection; the store is written on a blocking
//!   thread and the normalizer only swaps an `Arc`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oktaflow_fetch::{ApiEndpoint, OktaClient, Pacer};
use oktaflow_normalize::{LookupCounters, LookupCounts, Profiles};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use crate::error::EnrichError;
use crate::okta;
use crate::record::{DeviceRecord, GroupRecord, UserRecord};
use crate::store::{Committed, ProfileStore, Refresh};

/// Users: `/api/v1/users`, scope `okta.users.read`.
pub const USERS: ApiEndpoint = ApiEndpoint {
    path: "/api/v1/users",
    what: "users",
    scope: "okta.users.read",
};
/// A user's admin roles: `/api/v1/users/{id}/roles`, scope `okta.roles.read`.
pub const USER_ROLES: ApiEndpoint = ApiEndpoint {
    path: "/api/v1/users",
    what: "admin roles",
    scope: "okta.roles.read",
};
/// Groups and their members: `/api/v1/groups`, scope `okta.groups.read`.
pub const GROUPS: ApiEndpoint = ApiEndpoint {
    path: "/api/v1/groups",
    what: "groups",
    scope: "okta.groups.read",
};
/// Users holding admin roles: `/api/v1/iam/assignees/users`, scope `okta.roles.read`.
pub const ROLE_ASSIGNEES: ApiEndpoint = ApiEndpoint {
    path: "/api/v1/iam/assignees/users",
    what: "admin role assignments",
    scope: "okta.roles.read",
};
/// Devices with their users: `/api/v1/devices?expand=user`, scope `okta.devices.read`.
pub const DEVICES: ApiEndpoint = ApiEndpoint {
    path: "/api/v1/devices",
    what: "devices",
    scope: "okta.devices.read",
};

/// The OAuth scopes enrichment needs: users (with groups and roles) and devices.
pub fn required_scopes(users: bool, devices: bool) -> Vec<&'static str> {
    let mut scopes = Vec::new();
    if users {
        scopes.extend([USERS.scope, GROUPS.scope, ROLE_ASSIGNEES.scope]);
    }
    if devices {
        scopes.push(DEVICES.scope);
    }
    scopes
}

/// Default share of each endpoint's rate limit the sync may use.
pub const DEFAULT_RATE_LIMIT_SHARE: f64 = 0.2;
/// Default refresh period.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60 * 60);
/// Default period of the full pull that finds deleted users and devices.
pub const DEFAULT_FULL_RESYNC: Duration = Duration::from_secs(24 * 60 * 60);
/// Page size asked of the listings (Okta's maximum for users is 200).
const PAGE_SIZE: u32 = 200;
/// The first full pull of users is a search from the epoch (a search also returns
/// deprovisioned users, which a plain listing leaves out).
const EPOCH: &str = "1970-01-01T00:00:00.000Z";

/// Per-source enrichment settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichOptions {
    /// Sync users (with groups and admin roles) and join them onto events.
    pub users: bool,
    /// Sync devices and join them onto events.
    pub devices: bool,
    /// How often to refresh.
    pub refresh: Duration,
    /// Share (0, 1] of each endpoint's rate limit the sync may use.
    pub rate_limit_share: f64,
    /// Where to append one NDJSON document per changed profile after each refresh
    /// ([`profile_documents`](crate::profile_documents)); `None`: no profile stream.
    pub profiles_file: Option<std::path::PathBuf>,
    /// How often a refresh reads every user and device instead of only the changed ones:
    /// Okta lists no deletions, so a full pull is what removes the users and devices deleted
    /// in Okta from the store.
    pub full_resync: Duration,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        EnrichOptions {
            users: true,
            devices: true,
            refresh: DEFAULT_REFRESH,
            rate_limit_share: DEFAULT_RATE_LIMIT_SHARE,
            profiles_file: None,
            full_resync: DEFAULT_FULL_RESYNC,
        }
    }
}

/// The latest profile snapshot, shared with the normalize stage (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct ProfileHandle {
    current: Arc<RwLock<Option<Arc<Profiles>>>>,
    /// The lookup counters every published snapshot counts in.
    counters: Arc<LookupCounters>,
}

impl ProfileHandle {
    /// The snapshot to join now (`None` before the store has any data).
    pub fn current(&self) -> Option<Arc<Profiles>> {
        self.current.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// User and device lookups of every snapshot published through this handle so far.
    pub fn lookups(&self) -> LookupCounts {
        self.counters.counts()
    }

    fn publish(&self, mut profiles: Profiles) {
        profiles.set_counters(Arc::clone(&self.counters));
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(profiles));
        }
    }
}

/// The state of a source's profile store, after it was opened or refreshed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileStatus {
    /// Users in the store.
    pub users: u64,
    /// Devices in the store.
    pub devices: u64,
    /// Store version (0: never synced).
    pub version: u64,
    /// When the data was last synced from Okta (`None`: never).
    pub synced_at: Option<DateTime<Utc>>,
}

/// One scheduled refresh of [`Enricher::run_reporting`]: what it did and the store after it.
#[derive(Debug)]
pub enum RefreshOutcome<'a> {
    /// The refresh committed.
    Refreshed(&'a RefreshReport, &'a ProfileStatus),
    /// It failed; the last snapshot stays in use.
    Failed(&'a EnrichError),
}

/// What one refresh did.
#[derive(Debug, Clone, Default)]
pub struct RefreshReport {
    /// The commit (version, changed profiles).
    pub committed: Committed,
    /// Requests sent.
    pub requests: u64,
    /// Users, groups and devices read.
    pub users_read: usize,
    /// Groups read.
    pub groups_read: usize,
    /// Devices read.
    pub devices_read: usize,
    /// A full pull (every user and device read; the ones not listed were removed).
    pub full: bool,
}

struct Pacers {
    users: Pacer,
    roles: Pacer,
    groups: Pacer,
    assignees: Pacer,
    devices: Pacer,
}

/// Keeps one source's profile store in sync with Okta.
pub struct Enricher {
    client: Arc<OktaClient>,
    store: Arc<ProfileStore>,
    options: EnrichOptions,
    pacers: Pacers,
    handle: ProfileHandle,
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `s` percent-encoded for a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The later of two Okta timestamps (compared as times; unparsable ones lose).
fn later(a: Option<String>, b: Option<&str>) -> Option<String> {
    let parse = |s: &str| s.parse::<DateTime<Utc>>().ok();
    match (a, b) {
        (None, b) => b.filter(|b| parse(b).is_some()).map(str::to_string),
        (Some(a), Some(b)) if parse(b) > parse(&a) => Some(b.to_string()),
        (a, _) => a,
    }
}

/// The path and query of an absolute or relative link.
fn link_path(href: &str) -> String {
    match href.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string()),
        None => href.to_string(),
    }
}

impl Enricher {
    /// Opens the store file `store` and publishes what it holds at once (a restart joins
    /// the last snapshot without downloading anything; before the first sync an empty
    /// snapshot of version 0, so events say their user is not known yet).
    pub fn open(
        store: &Path,
        client: Arc<OktaClient>,
        options: EnrichOptions,
    ) -> Result<Enricher, EnrichError> {
        let store = Arc::new(ProfileStore::open(store)?);
        let handle = ProfileHandle::default();
        if store.sync_state()?.version > 0 {
            handle.publish(store.snapshot(options.users, options.devices)?);
        } else {
            handle.publish(Profiles::new(options.users, options.devices));
        }
        let share = options.rate_limit_share;
        Ok(Enricher {
            client,
            store,
            pacers: Pacers {
                users: Pacer::new(share),
                roles: Pacer::new(share),
                groups: Pacer::new(share),
                assignees: Pacer::new(share),
                devices: Pacer::new(share),
            },
            options,
            handle,
        })
    }

    /// The snapshot handle for the normalize stage.
    pub fn handle(&self) -> ProfileHandle {
        self.handle.clone()
    }

    /// The store.
    pub fn store(&self) -> &Arc<ProfileStore> {
        &self.store
    }

    /// The settings.
    pub fn options(&self) -> &EnrichOptions {
        &self.options
    }

    /// The store's counts, version and last sync time now.
    pub fn status(&self) -> Result<ProfileStatus, EnrichError> {
        status_of(&self.store)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &ApiEndpoint,
        path: &str,
        pacer: &Pacer,
        requests: &mut u64,
    ) -> Result<(T, Option<String>), EnrichError> {
        let page = self
            .client
            .fetch_api(endpoint, path, pacer)
            .await
            .map_err(|error| EnrichError::Request {
                endpoint: endpoint.what,
                error,
            })?;
        *requests += 1;
        let value = serde_json::from_slice(&page.body).map_err(|e| EnrichError::Parse {
            what: endpoint.what,
            detail: e.to_string(),
        })?;
        Ok((value, page.next))
    }

    /// Every page of a JSON-array listing.
    async fn list<T: DeserializeOwned>(
        &self,
        endpoint: &ApiEndpoint,
        first: String,
        pacer: &Pacer,
        requests: &mut u64,
        mut each: impl FnMut(T),
    ) -> Result<(), EnrichError> {
        let mut path = Some(first);
        while let Some(p) = path {
            let (items, next): (Vec<T>, _) = self.get(endpoint, &p, pacer, requests).await?;
            items.into_iter().for_each(&mut each);
            path = next;
        }
        Ok(())
    }

    /// Reads what changed since the last refresh, commits it as one transaction and
    /// publishes the new snapshot when anything changed.
    pub async fn refresh(&self) -> Result<RefreshReport, EnrichError> {
        let store = Arc::clone(&self.store);
        let state = blocking(move || store.sync_state()).await?;
        let mut report = RefreshReport::default();
        let mut refresh = Refresh {
            synced_at: Some(Utc::now()),
            ..Refresh::default()
        };
        let requests = &mut report.requests;
        // Every user and device (deletions found) on the first pull and every `full_resync`.
        let full = state.full_synced_at.is_none_or(|t| {
            (Utc::now() - t).to_std().unwrap_or_default() >= self.options.full_resync
        });
        report.full = full;
        if self.options.users {
            let since = match &state.users_cursor {
                Some(cursor) if !full => cursor.clone(),
                _ => EPOCH.into(),
            };
            let first = format!(
                "{}?limit={PAGE_SIZE}&search={}",
                USERS.path,
                encode(&format!("lastUpdated gt \"{since}\""))
            );
            let mut cursor = state.users_cursor.clone();
            let mut users = Vec::new();
            self.list(
                &USERS,
                first,
                &self.pacers.users,
                requests,
                |u: okta::User| {
                    cursor = later(cursor.take(), u.last_updated.as_deref());
                    users.push(UserRecord::from(u));
                },
            )
            .await?;
            report.users_read = users.len();
            refresh.users = users;
            refresh.users_complete = full;
            refresh.users_cursor = cursor;

            let mut listed = Vec::new();
            let first = format!("{}?limit={PAGE_SIZE}", GROUPS.path);
            self.list(
                &GROUPS,
                first,
                &self.pacers.groups,
                requests,
                |g: okta::Group| listed.push(g),
            )
            .await?;
            report.groups_read = listed.len();
            let mut groups = Vec::with_capacity(listed.len());
            for g in listed {
                let name = g.profile.name.unwrap_or_else(|| g.id.clone());
                let members = match state.groups.get(&g.id) {
                    Some(stored)
                        if g.last_membership_updated.is_some()
                            && stored.last_membership_updated == g.last_membership_updated =>
                    {
                        stored.members.clone()
                    }
                    _ => {
                        let mut members = Vec::new();
                        let first = format!("{}/{}/users?limit={PAGE_SIZE}", GROUPS.path, g.id);
                        self.list(
                            &GROUPS,
                            first,
                            &self.pacers.groups,
                            requests,
                            |m: okta::Member| members.push(m.id),
                        )
                        .await?;
                        members
                    }
                };
                groups.push(GroupRecord {
                    id: g.id,
                    name,
                    last_membership_updated: g.last_membership_updated,
                    members,
                });
            }
            refresh.groups = Some(groups);

            let mut admins = Vec::new();
            let mut path = Some(format!("{}?limit=100", ROLE_ASSIGNEES.path));
            while let Some(p) = path {
                let (page, next): (okta::Assignees, _) = self
                    .get(&ROLE_ASSIGNEES, &p, &self.pacers.assignees, requests)
                    .await?;
                admins.extend(page.value.into_iter().map(|m| m.id));
                path = next.or_else(|| page.links.and_then(|l| l.next).map(|n| link_path(&n.href)));
            }
            let mut roles = BTreeMap::new();
            for id in admins {
                let path = format!("{}/{id}/roles", USER_ROLES.path);
                let mut names = Vec::new();
                self.list(
                    &USER_ROLES,
                    path,
                    &self.pacers.roles,
                    requests,
                    |r: okta::Role| names.extend(r.name()),
                )
                .await?;
                if !names.is_empty() {
                    names.sort();
                    names.dedup();
                    roles.insert(id, names);
                }
            }
            refresh.roles = Some(roles);
        }
        if self.options.devices {
            let mut first = format!("{}?limit={PAGE_SIZE}&expand=user", DEVICES.path);
            if let Some(since) = state.devices_cursor.as_ref().filter(|_| !full) {
                first.push_str("&search=");
                first.push_str(&encode(&format!("lastUpdated gt \"{since}\"")));
            }
            let mut cursor = state.devices_cursor.clone();
            let mut devices = Vec::new();
            self.list(
                &DEVICES,
                first,
                &self.pacers.devices,
                requests,
                |d: okta::Device| {
                    cursor = later(cursor.take(), d.last_updated.as_deref());
                    devices.push(DeviceRecord::from(d));
                },
            )
            .await?;
            report.devices_read = devices.len();
            refresh.devices = devices;
            refresh.devices_complete = full;
            refresh.devices_cursor = cursor;
        }
        let store = Arc::clone(&self.store);
        let (users, devices) = (self.options.users, self.options.devices);
        let (committed, snapshot) = blocking(move || {
            let committed = store.commit(&refresh)?;
            let changed = committed.changed() || committed.version == 1;
            let snapshot = if changed {
                Some(store.snapshot(users, devices)?)
            } else {
                None
            };
            Ok((committed, snapshot))
        })
        .await?;
        match snapshot {
            Some(s) => self.handle.publish(s),
            None => {
                // Same profiles, newer stamp: republish with the new version and time.
                if let Some(current) = self.handle.current() {
                    let mut s = (*current).clone();
                    s.version = committed.version;
                    s.as_of = Some(Utc::now());
                    self.handle.publish(s);
                }
            }
        }
        if let (Some(path), Some(snapshot)) = (&self.options.profiles_file, self.handle.current()) {
            let documents = crate::profile_documents(&committed, &snapshot);
            if !documents.is_empty() {
                let path = path.clone();
                blocking(move || append_documents(&path, &documents)).await?;
            }
        }
        report.committed = committed;
        Ok(report)
    }

    /// Refreshes now when the store is older than the refresh period (or empty), then every
    /// period, forever (drop or abort the task to stop: an interrupted refresh leaves the
    /// last committed one). A failed refresh is logged in one line and tried again at the
    /// next period; it never stops the log pipeline.
    pub async fn run(self) {
        self.run_reporting(|_| {}).await
    }

    /// [`run`](Enricher::run), telling `report` the outcome of every refresh (e.g. for
    /// metrics); `report` must return quickly.
    pub async fn run_reporting(self, mut report: impl FnMut(RefreshOutcome<'_>) + Send) {
        let due_in = |synced_at: Option<DateTime<Utc>>, period: Duration| match synced_at {
            None => Duration::ZERO,
            Some(t) => {
                let age = (Utc::now() - t).to_std().unwrap_or_default();
                period.saturating_sub(age)
            }
        };
        let synced_at = self.store.sync_state().ok().and_then(|s| s.synced_at);
        tokio::time::sleep(due_in(synced_at, self.options.refresh)).await;
        loop {
            let outcome = match self.refresh().await {
                Ok(r) => {
                    info!(
                        store = %self.store.path().display(),
                        version = r.committed.version,
                        requests = r.requests,
                        users_changed = r.committed.changed_users.len(),
                        devices_changed = r.committed.changed_devices.len(),
                        "profiles refreshed"
                    );
                    let store = Arc::clone(&self.store);
                    blocking(move || status_of(&store))
                        .await
                        .map(|status| (r, status))
                }
                Err(e) => Err(e),
            };
            match &outcome {
                Ok((r, status)) => report(RefreshOutcome::Refreshed(r, status)),
                Err(e) => {
                    warn!(error = %e, "profile refresh failed; the last snapshot stays in use");
                    report(RefreshOutcome::Failed(e));
                }
            }
            tokio::time::sleep(self.options.refresh).await;
        }
    }
}

/// The counts, version and last sync time of `store`.
fn status_of(store: &ProfileStore) -> Result<ProfileStatus, EnrichError> {
    let (users, devices) = store.counts()?;
    let state = store.sync_state()?;
    Ok(ProfileStatus {
        users,
        devices,
        version: state.version,
        synced_at: state.synced_at,
    })
}

/// Appends `documents` as NDJSON lines to `path` (created when missing) and syncs it.
fn append_documents(path: &Path, documents: &[crate::ProfileDocument]) -> Result<(), EnrichError> {
    use std::io::Write;
    let mut text = String::new();
    for d in documents {
        text.push_str(&d.json);
        text.push('\n');
    }
    let io = |e: std::io::Error| EnrichError::Store {
        path: path.to_path_buf(),
        detail: format!("writing the profile documents: {e}"),
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EnrichError> + Send + 'static,
) -> Result<T, EnrichError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(EnrichError::Parse {
            what: "store task",
            detail: e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            encode("lastUpdated gt \"2024-05-01T10:00:00.000Z\""),
            "lastUpdated%20gt%20%222024-05-01T10%3A00%3A00.000Z%22"
        );
        assert_eq!(
            link_path("https://acme.okta.com/api/v1/iam/assignees/users?after=x"),
            "/api/v1/iam/assignees/users?after=x"
        );
        assert_eq!(
            later(
                Some("2024-05-01T10:00:00.000Z".into()),
                Some("2024-05-02T10:00:00.000Z")
            ),
            Some("2024-05-02T10:00:00.000Z".into())
        );
        assert_eq!(
            later(Some("2024-05-01T10:00:00.000Z".into()), Some("garbage")),
            Some("2024-05-01T10:00:00.000Z".into())
        );
        assert_eq!(required_scopes(true, false).len(), 3);
    }
}

/// One endpoint checked by [`probe`]: what it reads, the scope, and the outcome.
#[derive(Debug)]
pub struct ScopeCheck {
    /// The endpoint.
    pub endpoint: ApiEndpoint,
    /// `Ok` when one page could be read; else the one-line error (a 403 names the scope).
    pub outcome: Result<(), EnrichError>,
}

/// Reads one small page of every endpoint `options` needs (users, groups, admin role
/// assignments, devices), so `oktaflow check` can say which scope is missing before a run.
pub async fn probe(client: &OktaClient, options: &EnrichOptions) -> Vec<ScopeCheck> {
    let mut endpoints = Vec::new();
    if options.users {
        endpoints.extend([
            (USERS, format!("{}?limit=1", USERS.path)),
            (GROUPS, format!("{}?limit=1", GROUPS.path)),
            (ROLE_ASSIGNEES, format!("{}?limit=1", ROLE_ASSIGNEES.path)),
        ]);
    }
    if options.devices {
        endpoints.push((DEVICES, format!("{}?limit=1", DEVICES.path)));
    }
    let mut checks = Vec::new();
    for (endpoint, path) in endpoints {
        let pacer = Pacer::new(options.rate_limit_share);
        let outcome = client
            .fetch_api(&endpoint, &path, &pacer)
            .await
            .map(|_| ())
            .map_err(EnrichError::from);
        checks.push(ScopeCheck { endpoint, outcome });
    }
    checks
}

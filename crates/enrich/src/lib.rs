//! # oktaflow-enrich: who is this?
//!
//! Identity enrichment for the oktaflow pipeline: the users (with their groups and admin
//! roles) and devices of an Okta org, synced from Okta's management API into an embedded
//! store in the state directory, and published as a read-only
//! [`Profiles`](oktaflow_normalize::Profiles) snapshot that the normalizer joins onto every
//! event (see `docs/enrichment.md`).
//!
//! * [`ProfileStore`]: the [redb](https://docs.rs/redb) file `profiles-<source>.redb`; one refresh is
//!   one atomic transaction, sync cursors included, so a crash keeps the last good snapshot
//!   and a restart continues incrementally.
//! * [`Enricher`]: the sync (users incrementally by `lastUpdated`, groups and members, admin
//!   role assignments, devices with their users), paced per endpoint at a share of its rate
//!   limit, through the System Log client's auth and one-line errors
//!   ([`oktaflow_fetch::OktaClient::fetch_api`]); [`ProfileHandle`] hands the latest
//!   snapshot to the normalize stage.
//! * [`profile_documents`]: changed profiles as documents for their own stream.

mod document;
mod error;
mod okta;
mod record;
mod store;
mod sync;

pub use document::{profile_documents, ProfileDocument};
pub use error::EnrichError;
pub use record::{DeviceRecord, GroupRecord, UserRecord};
pub use store::{store_file_name, Committed, ProfileStore, Refresh, SyncState, STORE_FILE};
pub use sync::{
    probe, required_scopes, EnrichOptions, Enricher, ProfileHandle, ProfileStatus, RefreshOutcome,
    RefreshReport, ScopeCheck, DEFAULT_FULL_RESYNC, DEFAULT_RATE_LIMIT_SHARE, DEFAULT_REFRESH,
    DEVICES, GROUPS, ROLE_ASSIGNEES, USERS, USER_ROLES,
};

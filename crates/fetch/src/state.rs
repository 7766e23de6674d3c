//! [`SourceState`] (what to checkpoint) and [`Page`] (what the source delivers).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use oktaflow_plumbing::RawEvent;

use crate::OrgUrl;

/// Where a source is, as cursors: checkpoint it once the page it came with is durable, and
/// resume from it with [`StartPoint::Resume`](crate::StartPoint::Resume).
///
/// It never holds the `published` time of a delivered event: Okta makes some events visible
/// late with an earlier `published`, so resuming from a time would lose them. The times in it
/// are query bounds (the configured start, backfill slice bounds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceState {
    /// The org this state belongs to (host, or host:port), checked on resume.
    pub org: String,
    /// Backfill in progress (time slices fetched in parallel); `None` once polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<BackfillState>,
    /// The polling query's `since`: the configured start, or the backfill's end.
    pub since: DateTime<Utc>,
    /// The polling cursor: path and query of the last `rel="next"` link (it carries `after`);
    /// `None` until the first polling page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Events near the backfill's end that polling may return again (see [`Seam`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seam: Option<Seam>,
    /// Events already delivered from a next link the server did not advance (see
    /// [`RepeatGuard`]); `None` while the server behaves, which is always for Okta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Box<RepeatGuard>>,
}

/// Progress of a backfill: the slice being delivered and how the rest is cut.
///
/// Slices after the current one are not yet delivered (even if prefetched); they are
/// re-derived from `slice_until`, `slice_seconds` and `end`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackfillState {
    /// End of the backfill range (exclusive); polling continues from here.
    pub end: DateTime<Utc>,
    /// Length of each slice in seconds.
    pub slice_seconds: u64,
    /// The current slice's `since`.
    pub slice_since: DateTime<Utc>,
    /// The current slice's `until` (exclusive).
    pub slice_until: DateTime<Utc>,
    /// Path and query of the current slice's `rel="next"` link; `None` at the slice's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_next: Option<String>,
}

/// The backfill→polling seam: bounded backfill queries select on `published`, the polling
/// query on when Okta stored the event, so an event published just before the backfill's end
/// and stored just after it is returned by both. The ids of backfilled events published
/// within `settle_seconds` of `until` are kept here; polling skips them, and the seam is
/// dropped once polling returns an event published `settle_seconds` after `until`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Seam {
    /// The backfill's end.
    pub until: DateTime<Utc>,
    /// The settle margin in seconds.
    pub settle_seconds: u64,
    /// Event ids (`uuid`) delivered by the backfill with `published >= until - settle`.
    pub ids: Vec<String>,
}

/// Protection against a server that answers the same `next` link for a non-empty page (a
/// broken proxy or gateway, never Okta): requesting that link again returns the same events.
/// The ids of the events already delivered from `cursor` are kept here, so they are skipped
/// when `cursor` is requested again, also after a restart from this checkpoint. It is dropped
/// as soon as the server hands out another link.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RepeatGuard {
    /// The next link (path and query) that did not advance.
    pub cursor: String,
    /// Event ids (`uuid`) already delivered from it (the most recent ones, bounded).
    pub ids: Vec<String>,
}

impl SourceState {
    /// A polling state starting at `since` (no cursor yet).
    pub fn polling(org: impl Into<String>, since: DateTime<Utc>) -> SourceState {
        SourceState {
            org: org.into(),
            backfill: None,
            since,
            next: None,
            seam: None,
            repeat: None,
        }
    }

    /// Whether this state was saved for `org`: the same host and port (`org`'s
    /// [`label`](OrgUrl::label)), letter case aside. Another port is another server.
    pub fn belongs_to(&self, org: &OrgUrl) -> bool {
        self.org.eq_ignore_ascii_case(org.label())
    }

    /// True while a backfill is in progress.
    pub fn is_backfilling(&self) -> bool {
        self.backfill.is_some()
    }
}

/// One page of events and the state to checkpoint once it is durable.
#[derive(Debug)]
pub struct Page {
    /// Raw LogEvent objects, in delivery order (slices of the response bodies).
    pub events: Vec<RawEvent>,
    /// Checkpoint this once the page is durable.
    pub state_after: SourceState,
    /// True when this page reached "now": the next call waits the poll interval first.
    pub caught_up: bool,
    /// The `published` time of the last event (for progress), if it has one.
    pub last_published: Option<DateTime<Utc>>,
}

/// The two fields oktaflow reads from an event.
#[derive(Deserialize)]
pub(crate) struct EventKey<'a> {
    #[serde(borrow, default)]
    pub uuid: Option<Cow<'a, str>>,
    #[serde(default)]
    pub published: Option<DateTime<Utc>>,
}

impl<'a> EventKey<'a> {
    /// Reads `uuid` and `published` (either may be missing or unparsable → `None`).
    pub(crate) fn of(event: &'a RawEvent) -> EventKey<'a> {
        serde_json::from_slice(event.as_bytes()).unwrap_or(EventKey {
            uuid: None,
            published: None,
        })
    }
}

/// The `published` time of the last event.
pub(crate) fn last_published(events: &[RawEvent]) -> Option<DateTime<Utc>> {
    events.last().and_then(|e| EventKey::of(e).published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_as_json() {
        let state = SourceState {
            org: "acme.okta.com".into(),
            backfill: Some(BackfillState {
                end: "2024-01-02T00:00:00Z".parse().unwrap(),
                slice_seconds: 3600,
                slice_since: "2024-01-01T00:00:00Z".parse().unwrap(),
                slice_until: "2024-01-01T01:00:00Z".parse().unwrap(),
                slice_next: Some("/api/v1/logs?after=abc&limit=1000".into()),
            }),
            since: "2024-01-02T00:00:00Z".parse().unwrap(),
            next: None,
            seam: Some(Seam {
                until: "2024-01-02T00:00:00Z".parse().unwrap(),
                settle_seconds: 600,
                ids: vec!["a".into()],
            }),
            repeat: Some(Box::new(RepeatGuard {
                cursor: "/api/v1/logs?after=stuck&limit=1000".into(),
                ids: vec!["b".into()],
            })),
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<SourceState>(&json).unwrap(), state);
        let polling =
            SourceState::polling("acme.okta.com", "2024-01-01T00:00:00Z".parse().unwrap());
        let json = serde_json::to_string(&polling).unwrap();
        assert_eq!(
            json,
            r#"{"org":"acme.okta.com","since":"2024-01-01T00:00:00Z"}"#
        );
    }

    #[test]
    fn event_key_and_last_published() {
        let events = oktaflow_plumbing::split_events(&bytes::Bytes::from_static(
            br#"[{"uuid":"u1","published":"2024-01-01T00:00:01.000Z"},{"uuid":"u2","published":"2024-01-01T00:00:02.500Z","x":{"y":1}}]"#,
        ))
        .unwrap();
        assert_eq!(EventKey::of(&events[0]).uuid.as_deref(), Some("u1"));
        assert_eq!(
            last_published(&events),
            Some("2024-01-01T00:00:02.500Z".parse().unwrap())
        );
        let odd =
            oktaflow_plumbing::split_events(&bytes::Bytes::from_static(br#"[{"published":42}]"#))
                .unwrap();
        assert_eq!(last_published(&odd), None);
        assert_eq!(last_published(&[]), None);
    }
}

//! [`RepeatFilter`]: no event is delivered twice when a server repeats a page.
//!
//! Okta's cursor always moves past a non-empty page; a broken proxy, gateway or impostor may
//! answer the same `after` cursor (and the same events) again and again. Two layers:
//!
//! * **At the seam between pages**, in memory: an event byte-identical to one of the previous
//!   page is dropped. Okta's events are immutable, so an identical one is the same event.
//!   Comparing bytes (bucketed by length) costs next to nothing, no JSON is parsed.
//! * **Across restarts**: when a non-empty page's `next` link equals the link it was fetched
//!   with, the ids of its events are kept in the checkpointed [`SourceState`] as a
//!   [`RepeatGuard`]; requesting that link again skips them, also after a restart.
//!
//! Dropping duplicates alone would leave a stuck source spinning with no progress (and
//! `--once` reporting success): after [`STUCK_PAGES`] pages in a row that brought nothing but
//! repeats, the source halts with one line.
//!
//! [`SourceState`]: crate::SourceState

use std::collections::{HashMap, HashSet};

use crate::client::with_limit;
use crate::error::FetchError;
use crate::state::{EventKey, RepeatGuard};
use crate::stats::FetchStats;
use oktaflow_plumbing::RawEvent;

/// Pages in a row holding only events already delivered before the source halts.
pub(crate) const STUCK_PAGES: u32 = 3;
/// Most ids a [`RepeatGuard`] keeps (the most recent ones).
const MAX_GUARD_IDS: usize = 10_000;

/// Drops repeated events from pages delivered in order; one per source.
#[derive(Debug)]
pub(crate) struct RepeatFilter {
    /// The configured page size: links are compared with their `limit` set to it (the
    /// client rewrites the `limit` of every link it follows).
    page_size: u32,
    /// The org label, for the halt.
    org: String,
    /// The previous page's events as received (cheap clones of the body slices).
    previous: Vec<RawEvent>,
    /// Pages in a row that held only repeats.
    stuck: u32,
}

impl RepeatFilter {
    /// A filter for a source with this page size and org label.
    pub(crate) fn new(page_size: u32, org: impl Into<String>) -> RepeatFilter {
        RepeatFilter {
            page_size,
            org: org.into(),
            previous: Vec::new(),
            stuck: 0,
        }
    }

    /// Filters `events`, fetched with `cursor` (`None`: a query without `after`), whose
    /// response named `next`; updates `guard` and counts the drops in `stats`. An error is a
    /// halt: the server keeps repeating itself.
    pub(crate) fn filter(
        &mut self,
        events: Vec<RawEvent>,
        cursor: Option<&str>,
        next: Option<&str>,
        guard: &mut Option<Box<RepeatGuard>>,
        stats: &FetchStats,
    ) -> Result<Vec<RawEvent>, FetchError> {
        let page_size = self.page_size;
        let cursor = cursor.map(|c| with_limit(c, page_size));
        let next = next.map(|n| with_limit(n, page_size));
        let received = events.len();
        let known: HashSet<&str> = match (guard.as_ref(), cursor.as_deref()) {
            (Some(guard), Some(cursor)) if with_limit(&guard.cursor, page_size) == cursor => {
                guard.ids.iter().map(String::as_str).collect()
            }
            _ => HashSet::new(),
        };
        let previous = by_length(&self.previous);
        let mut kept = Vec::with_capacity(events.len());
        for event in &events {
            let seen_before = previous
                .get(&event.len())
                .is_some_and(|same| same.iter().any(|p| p.as_bytes() == event.as_bytes()));
            let guarded = !known.is_empty()
                && EventKey::of(event)
                    .uuid
                    .is_some_and(|id| known.contains(id.as_ref()));
            if !seen_before && !guarded {
                kept.push(event.clone());
            }
        }
        drop(known);
        drop(previous);
        let repeats = received - kept.len();
        if repeats > 0 {
            stats.record_repeat_duplicates(repeats);
            tracing::warn!(
                org = self.org,
                repeats,
                "skipping events the server already sent (it repeated a page)"
            );
        }
        let advanced = next.is_none() || next != cursor;
        if advanced {
            if guard
                .as_ref()
                .is_some_and(|g| Some(with_limit(&g.cursor, page_size)) != next)
            {
                *guard = None;
            }
        } else if received > 0 {
            let cursor = next.unwrap_or_default();
            let mut ids = match guard.take() {
                Some(g) if with_limit(&g.cursor, page_size) == cursor => g.ids,
                _ => Vec::new(),
            };
            for event in &events {
                if let Some(id) = EventKey::of(event).uuid {
                    if !ids.iter().any(|known| known == id.as_ref()) {
                        ids.push(id.into_owned());
                    }
                }
            }
            if ids.len() > MAX_GUARD_IDS {
                ids.drain(..ids.len() - MAX_GUARD_IDS);
            }
            *guard = Some(Box::new(RepeatGuard { cursor, ids }));
        }
        self.stuck = if received > 0 && kept.is_empty() {
            self.stuck + 1
        } else {
            0
        };
        self.previous = events;
        if self.stuck >= STUCK_PAGES {
            return Err(FetchError::Protocol {
                org: self.org.clone(),
                detail: format!(
                    "{} pages in a row held only events already delivered and the next link \
                     did not advance; none was delivered twice, and oktaflow stops because the \
                     cursor does not move — check a proxy or gateway between oktaflow and Okta",
                    self.stuck
                ),
            });
        }
        Ok(kept)
    }
}

/// The events grouped by length, for cheap identity checks.
fn by_length(events: &[RawEvent]) -> HashMap<usize, Vec<&RawEvent>> {
    let mut map: HashMap<usize, Vec<&RawEvent>> = HashMap::with_capacity(events.len());
    for event in events {
        map.entry(event.len()).or_default().push(event);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &'static str) -> Vec<RawEvent> {
        oktaflow_plumbing::split_events(&bytes::Bytes::from_static(text.as_bytes())).unwrap()
    }

    const PAGE: &str = r#"[{"uuid":"a"},{"uuid":"b"}]"#;

    #[test]
    fn a_well_behaved_server_changes_nothing() {
        let stats = FetchStats::new();
        let mut filter = RepeatFilter::new(2, "o");
        let mut guard = None;
        let kept = filter
            .filter(
                page(PAGE),
                None,
                Some("/api/v1/logs?after=1&limit=2"),
                &mut guard,
                &stats,
            )
            .unwrap();
        assert_eq!(kept.len(), 2);
        let kept = filter
            .filter(
                page(r#"[{"uuid":"c"}]"#),
                Some("/api/v1/logs?after=1&limit=2"),
                Some("/api/v1/logs?after=2&limit=2"),
                &mut guard,
                &stats,
            )
            .unwrap();
        assert_eq!(kept.len(), 1);
        // An empty page keeps its cursor: normal for a caught-up polling query.
        for _ in 0..5 {
            let kept = filter
                .filter(
                    Vec::new(),
                    Some("/api/v1/logs?after=2&limit=2"),
                    Some("/api/v1/logs?after=2&limit=2"),
                    &mut guard,
                    &stats,
                )
                .unwrap();
            assert!(kept.is_empty());
        }
        assert!(guard.is_none());
        assert_eq!(stats.snapshot().repeat_duplicates, 0);
    }

    #[test]
    fn a_repeated_page_is_dropped_guarded_and_halts() {
        let stats = FetchStats::new();
        let mut filter = RepeatFilter::new(2, "o");
        let mut guard = None;
        let stuck = Some("/api/v1/logs?after=s&limit=2");
        let kept = filter
            .filter(page(PAGE), None, stuck, &mut guard, &stats)
            .unwrap();
        assert_eq!(kept.len(), 2);
        assert!(guard.is_none(), "the first page advanced from `since`");
        let kept = filter
            .filter(page(PAGE), stuck, stuck, &mut guard, &stats)
            .unwrap();
        assert!(kept.is_empty());
        assert_eq!(
            guard,
            Some(Box::new(RepeatGuard {
                cursor: "/api/v1/logs?after=s&limit=2".into(),
                ids: vec!["a".into(), "b".into()]
            }))
        );
        // A fresh filter (a restart) still drops them through the guard; the cursor's limit
        // may differ (page size changed).
        let mut restarted = RepeatFilter::new(2, "o");
        let kept = restarted
            .filter(
                page(PAGE),
                Some("/api/v1/logs?after=s&limit=9"),
                Some("/api/v1/logs?after=s&limit=9"),
                &mut guard,
                &stats,
            )
            .unwrap();
        assert!(kept.is_empty());
        // The third page in a row that brings nothing new halts.
        let kept = filter
            .filter(page(PAGE), stuck, stuck, &mut guard, &stats)
            .unwrap();
        assert!(kept.is_empty());
        let error = filter
            .filter(page(PAGE), stuck, stuck, &mut guard, &stats)
            .unwrap_err();
        assert!(error.is_halt());
        assert!(error.to_string().contains("next link"), "{error}");
        assert!(!error.to_string().contains('\n'));
        assert_eq!(stats.snapshot().repeat_duplicates, 8);
    }

    #[test]
    fn new_events_under_a_stuck_cursor_pass_and_the_guard_drops_once_it_moves() {
        let stats = FetchStats::new();
        let mut filter = RepeatFilter::new(2, "o");
        let mut guard = None;
        let stuck = Some("/api/v1/logs?after=s&limit=2");
        filter
            .filter(page(PAGE), stuck, stuck, &mut guard, &stats)
            .unwrap();
        let kept = filter
            .filter(
                page(r#"[{"uuid":"a"},{"uuid":"c"}]"#),
                stuck,
                stuck,
                &mut guard,
                &stats,
            )
            .unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].text().contains("\"c\""));
        assert_eq!(guard.as_ref().unwrap().ids, ["a", "b", "c"]);
        let moved = Some("/api/v1/logs?after=t&limit=2");
        let kept = filter
            .filter(page(r#"[{"uuid":"d"}]"#), stuck, moved, &mut guard, &stats)
            .unwrap();
        assert_eq!(kept.len(), 1);
        assert!(guard.is_none());
    }
}

//! The event store: every event pre-serialized, kept in *visibility order* (the
//! order events became visible to the API, which is what polling cursors walk)
//! plus an index in `(published, uuid)` order for bounded (`until`) queries.
//! Events scheduled to become visible later wait in a pending queue.

use std::collections::VecDeque;

/// One event as stored: its sort keys and its JSON text.
pub(crate) struct StoredEvent {
    /// `published`, epoch milliseconds.
    pub(crate) published_ms: i64,
    /// The event's uuid.
    pub(crate) uuid: Box<str>,
    /// Compact LogEvent JSON.
    pub(crate) json: Box<str>,
}

/// A page of events rendered as a JSON array.
pub(crate) struct PageBody {
    /// `[ev,ev,...]`
    pub(crate) body: Vec<u8>,
    /// Number of events in the page.
    pub(crate) count: usize,
}

/// All events, visible and pending.
#[derive(Default)]
pub(crate) struct EventStore {
    visible: Vec<StoredEvent>,
    by_published: Vec<u32>,
    /// `(visible_at_ms, event)`, ascending by visibility time.
    pending: VecDeque<(i64, StoredEvent)>,
}

impl EventStore {
    /// A store from `(visible_at_ms, event)` pairs given in generation order;
    /// those visible at `now_ms` are visible at once, the rest pending.
    pub(crate) fn new(mut events: Vec<(i64, StoredEvent)>, now_ms: i64) -> Self {
        // Stable sort: equal visibility times keep generation order.
        events.sort_by_key(|(visible_at, _)| *visible_at);
        let split = events.partition_point(|(visible_at, _)| *visible_at <= now_ms);
        let pending: VecDeque<_> = events.drain(split..).collect();
        let visible: Vec<StoredEvent> = events.into_iter().map(|(_, e)| e).collect();
        let mut by_published: Vec<u32> = (0..visible.len() as u32).collect();
        by_published.sort_unstable_by(|&a, &b| {
            let (a, b) = (&visible[a as usize], &visible[b as usize]);
            (a.published_ms, &a.uuid).cmp(&(b.published_ms, &b.uuid))
        });
        EventStore {
            visible,
            by_published,
            pending,
        }
    }

    /// Number of visible events.
    pub(crate) fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// Number of events not visible yet.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Whether a pending event is due at `now_ms` (cheap check before taking a write lock).
    pub(crate) fn has_due(&self, now_ms: i64) -> bool {
        self.pending.front().is_some_and(|(at, _)| *at <= now_ms)
    }

    /// Makes every pending event whose time has come visible, in visibility-time order.
    pub(crate) fn promote(&mut self, now_ms: i64) {
        while self.pending.front().is_some_and(|(at, _)| *at <= now_ms) {
            if let Some((_, event)) = self.pending.pop_front() {
                self.push_visible(event);
            }
        }
    }

    /// Appends an event that becomes visible now.
    pub(crate) fn push_visible(&mut self, event: StoredEvent) {
        let index = self.visible.len() as u32;
        let key = (event.published_ms, &*event.uuid);
        let at = self.by_published.partition_point(|&i| {
            let e = &self.visible[i as usize];
            (e.published_ms, &*e.uuid) <= key
        });
        self.visible.push(event);
        self.by_published.insert(at, index);
    }

    /// Polling page: visible events from `position` on with `published >= since_ms`,
    /// at most `limit`. Returns the page and the position after it.
    pub(crate) fn polling_page(
        &self,
        position: u64,
        since_ms: i64,
        limit: usize,
    ) -> (PageBody, u64) {
        let start = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(self.visible.len());
        let mut page = PageWriter::new(limit);
        let mut next = start;
        for event in &self.visible[start..] {
            if page.count == limit {
                break;
            }
            next += 1;
            if event.published_ms >= since_ms {
                page.push(&event.json);
            }
        }
        (page.finish(), next as u64)
    }

    /// Bounded page: events with `since_ms <= published < until_ms` in
    /// `(published, uuid)` order, strictly after `after` when given, at most
    /// `limit`. Returns the page, the key of its last event and whether more remain.
    pub(crate) fn bounded_page(
        &self,
        since_ms: i64,
        until_ms: i64,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> (PageBody, Option<(i64, String)>, bool) {
        let start = match after {
            Some(key) => self.by_published.partition_point(|&i| {
                let e = &self.visible[i as usize];
                (e.published_ms, &*e.uuid) <= key
            }),
            None => self
                .by_published
                .partition_point(|&i| self.visible[i as usize].published_ms < since_ms),
        };
        let mut page = PageWriter::new(limit);
        let mut last = None;
        let mut more = false;
        for &i in &self.by_published[start..] {
            let event = &self.visible[i as usize];
            if event.published_ms >= until_ms || event.published_ms < since_ms {
                break;
            }
            if page.count == limit {
                more = true;
                break;
            }
            page.push(&event.json);
            last = Some((event.published_ms, event.uuid.to_string()));
        }
        (page.finish(), last, more)
    }

    /// Uuids of all visible events, in visibility order.
    pub(crate) fn visible_uuids(&self) -> Vec<String> {
        self.visible.iter().map(|e| e.uuid.to_string()).collect()
    }

    /// The JSON text of every visible event, in visibility order.
    pub(crate) fn visible_json(&self) -> Vec<String> {
        self.visible.iter().map(|e| e.json.to_string()).collect()
    }

    /// Smallest `published` of any event, visible or pending.
    pub(crate) fn oldest_published_ms(&self) -> Option<i64> {
        let visible = self
            .by_published
            .first()
            .map(|&i| self.visible[i as usize].published_ms);
        let pending = self.pending.iter().map(|(_, e)| e.published_ms).min();
        match (visible, pending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Concatenates pre-serialized events into a JSON array.
struct PageWriter {
    body: Vec<u8>,
    count: usize,
}

impl PageWriter {
    fn new(limit: usize) -> Self {
        let mut body = Vec::with_capacity(2 + limit.min(1000) * 2600);
        body.push(b'[');
        PageWriter { body, count: 0 }
    }

    fn push(&mut self, json: &str) {
        if self.count > 0 {
            self.body.push(b',');
        }
        self.body.extend_from_slice(json.as_bytes());
        self.count += 1;
    }

    fn finish(mut self) -> PageBody {
        self.body.push(b']');
        PageBody {
            body: self.body,
            count: self.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(published_ms: i64, uuid: &str) -> StoredEvent {
        StoredEvent {
            published_ms,
            uuid: uuid.into(),
            json: format!("{{\"uuid\":\"{uuid}\",\"p\":{published_ms}}}").into(),
        }
    }

    fn uuids(page: &PageBody) -> Vec<String> {
        let v: Vec<serde_json::Value> = serde_json::from_slice(&page.body).expect("page is JSON");
        v.iter()
            .map(|e| e["uuid"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn late_events_are_visible_in_visibility_order_and_bounded_in_published_order() {
        // "c" is published at 10 but only visible at 50.
        let events = vec![
            (10 + 40, ev(10, "c")),
            (20, ev(20, "a")),
            (30, ev(30, "b")),
            (100, ev(100, "d")),
        ];
        let mut store = EventStore::new(events, 60);
        assert_eq!(store.visible_uuids(), ["a", "b", "c"]);
        assert_eq!(store.pending_len(), 1);
        store.promote(100);
        assert_eq!(store.visible_uuids(), ["a", "b", "c", "d"]);
        store.push_visible(ev(5, "e"));

        let (page, next) = store.polling_page(0, 0, 2);
        assert_eq!(
            (uuids(&page), next),
            (vec!["a".to_string(), "b".to_string()], 2)
        );
        let (page, next) = store.polling_page(next, 0, 10);
        assert_eq!(uuids(&page), ["c", "d", "e"]);
        let (page, again) = store.polling_page(next, 0, 10);
        assert_eq!(
            (page.count, again),
            (0, next),
            "caught up: empty page, same position"
        );
        let (page, _) = store.polling_page(0, 20, 10);
        assert_eq!(uuids(&page), ["a", "b", "d"], "since filters on published");

        let (page, last, more) = store.bounded_page(0, 100, None, 2);
        assert_eq!(uuids(&page), ["e", "c"]);
        assert!(more);
        let last = last.expect("non-empty page");
        let (page, _, more) = store.bounded_page(0, 100, Some((last.0, &last.1)), 10);
        assert_eq!(uuids(&page), ["a", "b"], "until is exclusive");
        assert!(!more);
        assert_eq!(store.oldest_published_ms(), Some(5));
    }
}

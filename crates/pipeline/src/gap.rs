//! Gap filling for a push source that also has API credentials: Okta Log Streaming has no
//! replay, so what it never delivered (a stream that was down, deactivated after failures,
//! or silently lost an event's interval) is fetched from `/api/v1/logs` with `since`/`until`
//! and committed through the same de-duplication window and commit path as pushed events.
//!
//! The [`GapFiller`] decides *which intervals* to fetch; the push run
//! ([`crate::push`]) fetches them a page at a time between batches of deliveries. A gap is
//! noticed three ways:
//!
//! * **A jump in the stream's own time**: an event pushed with a `published` more than
//!   [`GapFill::jump`] after the latest one committed: the interval between them (widened by
//!   [`GapFill::overlap`] on both sides) is a gap. Measured on event times, so it is the same in
//!   simulated time and in a restart after a crash.
//! * **The stream's lifecycle events**: `system.log_stream.lifecycle.activate` pushed after a
//!   stop makes the interval since the latest committed event a gap;
//!   `system.log_stream.lifecycle.deactivate` starts checking the API at once (below).
//! * **Silence**: no delivery for [`GapFill::silence`] (wall clock), or a deactivation seen:
//!   the interval from the latest committed event to now (minus [`GapFill::settle`]) is
//!   fetched, and again after each further `silence`, so a stream that stays down degrades to
//!   polling.
//!
//! An interval is fetched once its end is [`GapFill::settle`] in the past (the System Log's
//! own delay before an event is visible). The gaps still to fill and the latest committed
//! `published` are saved in the checkpoint ([`StreamState`]), in the same atomic write as the
//! batch that revealed or filled them: after a crash the fill resumes where its last committed
//! page ended (bounded queries come in `published` order), and the window drops what was
//! already written.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// `eventType` of the stream's activation.
pub const LIFECYCLE_ACTIVATE: &str = "system.log_stream.lifecycle.activate";
/// `eventType` of the stream's deactivation.
pub const LIFECYCLE_DEACTIVATE: &str = "system.log_stream.lifecycle.deactivate";

/// Gap-filling settings of a push source (`[sources.eventbridge]` `gap_*` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapFill {
    /// A jump in `published` between the latest committed event and a pushed one longer than
    /// this is a gap.
    pub jump: Duration,
    /// No delivery for this long (wall clock): the API is asked for what came since.
    pub silence: Duration,
    /// Each fetched interval starts this much before the gap and ends this much after it.
    pub overlap: Duration,
    /// An interval is fetched once its end is this far in the past.
    pub settle: Duration,
}

impl Default for GapFill {
    fn default() -> GapFill {
        GapFill {
            jump: Duration::from_secs(300),
            silence: Duration::from_secs(600),
            overlap: Duration::from_secs(60),
            settle: Duration::from_secs(60),
        }
    }
}

/// An interval of `published` times to fetch from the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// Lower bound (`since`): moves forward as pages are committed.
    pub since: DateTime<Utc>,
    /// Upper bound (`until`).
    pub until: DateTime<Utc>,
    /// Why it is a gap (for logs).
    pub reason: String,
}

/// What a push source with gap filling keeps in its checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamState {
    /// The latest `published` committed (pushed or fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<DateTime<Utc>>,
    /// Intervals still to fetch, in the order they were noticed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Notices gaps and hands out what to fetch next (see the [module documentation](self)).
#[derive(Debug)]
pub struct GapFiller {
    options: GapFill,
    /// What the last saved checkpoint holds.
    state: StreamState,
    /// The `next` link of the first gap's fetch in progress (not saved: a restart begins the
    /// gap again from its saved `since`).
    cursor: Option<String>,
    last_delivery: Instant,
    last_check: Instant,
    deactivated: bool,
}

impl GapFiller {
    /// A filler starting from the checkpoint's `saved` state.
    pub fn new(options: GapFill, saved: Option<StreamState>) -> GapFiller {
        let now = Instant::now();
        GapFiller {
            options,
            state: saved.unwrap_or_default(),
            cursor: None,
            last_delivery: now,
            last_check: now,
            deactivated: false,
        }
    }

    /// What the last saved checkpoint holds.
    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// A delivery arrived (the stream is alive).
    pub fn delivered(&mut self) {
        self.last_delivery = Instant::now();
    }

    /// The state after pushed events with these `published` times and event types (in
    /// `published` order) are committed: the latest time moves on, and a jump or a lifecycle
    /// event adds a gap. Not applied until [`GapFiller::committed`].
    pub fn after_pushed<'a>(
        &mut self,
        events: impl IntoIterator<Item = (DateTime<Utc>, Option<&'a str>)>,
    ) -> StreamState {
        let mut next = self.state.clone();
        let overlap = delta(self.options.overlap);
        for (published, event_type) in events {
            if let Some(latest) = next.latest {
                let jumped = published - latest > delta(self.options.jump);
                let activated = event_type == Some(LIFECYCLE_ACTIVATE) && published > latest;
                if jumped || activated {
                    let reason = if activated {
                        "the log stream was activated again".to_string()
                    } else {
                        format!(
                            "no event pushed for {} s of event time",
                            (published - latest).num_seconds()
                        )
                    };
                    add_gap(
                        &mut next.gaps,
                        Gap {
                            since: latest - overlap,
                            until: published + overlap,
                            reason,
                        },
                        self.cursor.is_some(),
                    );
                }
            }
            if event_type == Some(LIFECYCLE_DEACTIVATE) {
                self.deactivated = true;
            }
            next.latest = Some(next.latest.map_or(published, |l| l.max(published)));
        }
        next
    }

    /// A checkpoint holding `state` was saved.
    pub fn committed(&mut self, state: StreamState) {
        self.state = state;
    }

    /// The silence rule: when nothing was delivered for `silence` (or a deactivation was
    /// seen) since the last delivery or check, adds the interval from the latest committed
    /// event to now − settle (in memory: it is saved with the first page fetched for it, and
    /// noticed again after a crash). Returns true when it added one.
    pub fn check_silence(&mut self, now: DateTime<Utc>) -> bool {
        let quiet = self.last_delivery.max(self.last_check).elapsed();
        if quiet < self.options.silence && !self.deactivated {
            return false;
        }
        self.last_check = Instant::now();
        self.deactivated = false;
        let Some(latest) = self.state.latest else {
            return false;
        };
        let since = latest - delta(self.options.overlap);
        let until = now - delta(self.options.settle);
        if until <= since {
            return false;
        }
        let gap = Gap {
            since,
            until,
            reason: format!("no event pushed for {} s", quiet.as_secs()),
        };
        add_gap(&mut self.state.gaps, gap, self.cursor.is_some());
        true
    }

    /// The first gap's next request when it is due at `now`: `since`/`until` (a fresh scan)
    /// or the `next` link of the scan in progress.
    pub fn next_request(&self, now: DateTime<Utc>) -> Option<oktaflow_fetch::PageRequest> {
        let gap = self.state.gaps.first()?;
        if let Some(next) = &self.cursor {
            return Some(oktaflow_fetch::PageRequest::Next(next.clone()));
        }
        if now - delta(self.options.settle) < gap.until {
            return None;
        }
        Some(oktaflow_fetch::PageRequest::Start {
            since: gap.since,
            until: Some(gap.until),
        })
    }

    /// The first gap, if any.
    pub fn current(&self) -> Option<&Gap> {
        self.state.gaps.first()
    }

    /// The state after a page of the first gap whose events have these `published` times,
    /// with its `next` link: the gap's `since` moves to the page's latest event, or the gap is
    /// done when there is no next page. Not applied until [`GapFiller::page_committed`].
    pub fn after_page(
        &self,
        published: impl IntoIterator<Item = DateTime<Utc>>,
        next: Option<&str>,
    ) -> StreamState {
        let mut state = self.state.clone();
        let latest_in_page = published.into_iter().max();
        if let Some(p) = latest_in_page {
            state.latest = Some(state.latest.map_or(p, |l| l.max(p)));
        }
        if next.is_none() {
            if !state.gaps.is_empty() {
                state.gaps.remove(0);
            }
        } else if let (Some(gap), Some(p)) = (state.gaps.first_mut(), latest_in_page) {
            gap.since = gap.since.max(p);
        }
        state
    }

    /// A checkpoint holding `state` (from [`GapFiller::after_page`]) was saved; `next` is the
    /// page's `next` link.
    pub fn page_committed(&mut self, state: StreamState, next: Option<String>) {
        self.state = state;
        self.cursor = next;
    }

    /// The fetch in progress failed or timed out: the first gap is scanned again from its
    /// saved `since` later.
    pub fn page_failed(&mut self) {
        self.cursor = None;
    }
}

/// Adds `gap`, merged into the last one when they overlap (never into the first while its
/// scan is in progress).
fn add_gap(gaps: &mut Vec<Gap>, gap: Gap, first_busy: bool) {
    let mergeable = gaps.len() > 1 || (gaps.len() == 1 && !first_busy);
    if let Some(last) = gaps.last_mut().filter(|_| mergeable) {
        if gap.since <= last.until && gap.until >= last.since {
            last.since = last.since.min(gap.since);
            last.until = last.until.max(gap.until);
            return;
        }
    }
    gaps.push(gap);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn options() -> GapFill {
        GapFill {
            jump: Duration::from_secs(120),
            silence: Duration::from_secs(3600),
            overlap: Duration::from_secs(60),
            settle: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_jump_in_event_time_is_a_gap_widened_by_the_overlap() {
        let mut filler = GapFiller::new(options(), None);
        let state = filler.after_pushed([(t(0), None), (t(1), None)]);
        assert!(state.gaps.is_empty());
        filler.committed(state);
        let state = filler.after_pushed([(t(11), None)]);
        assert_eq!(state.latest, Some(t(11)));
        assert_eq!(state.gaps.len(), 1);
        assert_eq!((state.gaps[0].since, state.gaps[0].until), (t(0), t(12)));
        filler.committed(state);
        // Due once its end is `settle` in the past.
        assert_eq!(filler.next_request(t(12)), None);
        assert_eq!(
            filler.next_request(t(13)),
            Some(oktaflow_fetch::PageRequest::Start {
                since: t(0),
                until: Some(t(12))
            })
        );
        // A page with a next link moves `since`; the last page ends the gap.
        let state = filler.after_page([t(3), t(5)], Some("/api/v1/logs?after=x"));
        assert_eq!(state.gaps[0].since, t(5));
        filler.page_committed(state, Some("/api/v1/logs?after=x".into()));
        assert_eq!(
            filler.next_request(t(13)),
            Some(oktaflow_fetch::PageRequest::Next(
                "/api/v1/logs?after=x".into()
            ))
        );
        let state = filler.after_page([t(8)], None);
        assert!(state.gaps.is_empty());
        assert_eq!(state.latest, Some(t(11)));
    }

    #[test]
    fn an_activation_after_a_stop_is_a_gap_and_reordering_is_not() {
        let mut filler = GapFiller::new(options(), None);
        let state = filler.after_pushed([(t(0), None), (t(1), None)]);
        filler.committed(state);
        // An older event arriving late changes nothing.
        let state = filler.after_pushed([(t(0), None)]);
        assert!(state.gaps.is_empty());
        let state = filler.after_pushed([(t(2), Some(LIFECYCLE_ACTIVATE))]);
        assert_eq!(state.gaps.len(), 1);
        assert_eq!(state.gaps[0].since, t(0));
    }

    #[test]
    fn a_deactivation_makes_the_silence_check_ask_at_once() {
        let mut filler = GapFiller::new(options(), None);
        let state = filler.after_pushed([(t(0), None), (t(1), Some(LIFECYCLE_DEACTIVATE))]);
        filler.committed(state);
        assert!(filler.check_silence(t(30)));
        let gap = filler.current().unwrap();
        assert_eq!((gap.since, gap.until), (t(0), t(29)));
        // Not again before `silence` passes.
        assert!(!filler.check_silence(t(31)));
        // The state survives a checkpoint round trip.
        let json = serde_json::to_string(filler.state()).unwrap();
        let back: StreamState = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, filler.state());
    }
}

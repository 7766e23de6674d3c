//! Counters of the receiver's answers, read by the metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the receiver answered since it started, and what it holds now. Shared with the
/// metrics (`Arc<ReceiverStats>`); every field only grows except [`ReceiverStats::in_flight`].
#[derive(Debug, Default)]
pub struct ReceiverStats {
    accepted: AtomicU64,
    failed: AtomicU64,
    unauthorized: AtomicU64,
    too_large: AtomicU64,
    throttled: AtomicU64,
    bad_method: AtomicU64,
    in_flight: AtomicU64,
    body_bytes: AtomicU64,
}

/// Which counter an answer adds to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    Accepted,
    Failed,
    Unauthorized,
    TooLarge,
    Throttled,
    BadMethod,
}

impl ReceiverStats {
    pub(crate) fn count(&self, answer: Answer) {
        let counter = match answer {
            Answer::Accepted => &self.accepted,
            Answer::Failed => &self.failed,
            Answer::Unauthorized => &self.unauthorized,
            Answer::TooLarge => &self.too_large,
            Answer::Throttled => &self.throttled,
            Answer::BadMethod => &self.bad_method,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_in_flight(&self, delta: i64) {
        if delta >= 0 {
            self.in_flight.fetch_add(delta as u64, Ordering::Relaxed);
        } else {
            self.in_flight
                .fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    pub(crate) fn add_body_bytes(&self, bytes: usize) {
        self.body_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Requests answered `200` (their event durable).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
    /// Requests answered `5xx` (the pipeline failed, dropped or did not answer in time).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Requests answered `401`.
    pub fn unauthorized(&self) -> u64 {
        self.unauthorized.load(Ordering::Relaxed)
    }
    /// Requests answered `413`.
    pub fn too_large(&self) -> u64 {
        self.too_large.load(Ordering::Relaxed)
    }
    /// Requests answered `429` (the in-flight bound was reached).
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
    /// Requests answered `405`.
    pub fn bad_method(&self) -> u64 {
        self.bad_method.load(Ordering::Relaxed)
    }
    /// Requests being handled now (read, queued or waiting for their event to be durable).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
    /// Bytes of accepted request bodies handed to the pipeline.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes.load(Ordering::Relaxed)
    }
}

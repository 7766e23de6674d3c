//! Prometheus metrics of `oktaflow run`: one [`Metrics`] registry per process, labelled by
//! source (and sink). The names are the contract of `docs/operations.md` § 5.

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Why the metrics could not be set up or encoded.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// Every metric family; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `oktaflow_events_fetched_total{source}`.
    pub events_fetched: IntCounterVec,
    /// `oktaflow_events_normalized_total{source}`.
    pub events_normalized: IntCounterVec,
    /// `oktaflow_events_written_total{source,sink}`.
    pub events_written: IntCounterVec,
    /// `oktaflow_events_dead_lettered_total{source,reason}`.
    pub events_dead_lettered: IntCounterVec,
    /// `oktaflow_events_published_unparsable_total{source}`.
    pub events_published_unparsable: IntCounterVec,
    /// `oktaflow_okta_requests_total{source,status}`.
    pub requests: IntCounterVec,
    /// `oktaflow_okta_rate_limited_total{source}`.
    pub rate_limited: IntCounterVec,
    /// `oktaflow_okta_retries_total{source}`.
    pub retries: IntCounterVec,
    /// `oktaflow_okta_rate_limit_remaining{source}`.
    pub rate_limit_remaining: IntGaugeVec,
    /// `oktaflow_checkpoint_lag_seconds{source}`.
    pub checkpoint_lag: IntGaugeVec,
    /// `oktaflow_seconds_since_last_event{source}`.
    pub since_last_event: IntGaugeVec,
    /// `oktaflow_source_silent{source}`.
    pub source_silent: IntGaugeVec,
    /// `oktaflow_source_halted{source}`.
    pub source_halted: IntGaugeVec,
    /// `oktaflow_batch_duration_seconds{source,stage}`.
    pub batch_duration: HistogramVec,
    /// `oktaflow_sink_documents_rejected_total{source,sink}`.
    pub sink_rejected: IntCounterVec,
    /// `oktaflow_sink_errors_total{source,sink,kind}` (`kind`: [`oktaflow_sink::SinkError::kind`]).
    pub sink_errors: IntCounterVec,
    /// `oktaflow_sink_failing{source,sink}`.
    pub sink_failing: IntGaugeVec,
    /// `oktaflow_sink_write_duration_seconds{source,sink}`.
    pub sink_write_duration: HistogramVec,
    /// `oktaflow_alerts_total{source,rule}`.
    pub alerts: IntCounterVec,
    /// `oktaflow_detect_state_keys{source,rule}`.
    pub detect_keys: IntGaugeVec,
    /// `oktaflow_detect_state_evicted_total{source,rule}`.
    pub detect_evicted: IntCounterVec,
    /// `oktaflow_profiles{source,kind}` (`kind`: user, device).
    pub profiles: IntGaugeVec,
    /// `oktaflow_profiles_synced_timestamp_seconds{source}`.
    pub profiles_synced: IntGaugeVec,
    /// `oktaflow_profile_refreshes_total{source,result}` (`result`: ok, error).
    pub profile_refreshes: IntCounterVec,
    /// `oktaflow_profile_refresh_errors_total{source,endpoint}`.
    pub profile_refresh_errors: IntCounterVec,
    /// `oktaflow_profile_requests_total{source}`.
    pub profile_requests: IntCounterVec,
    /// `oktaflow_profile_lookups_total{source,kind,result}` (`result`: hit, miss).
    pub profile_lookups: IntCounterVec,
    /// `oktaflow_push_requests_total{source,status}`: the push receiver's answers.
    pub push_requests: IntCounterVec,
    /// `oktaflow_push_events_total{source,outcome}` (`accepted`, `duplicate`, `rejected`).
    pub push_events: IntCounterVec,
    /// `oktaflow_push_in_flight{source}`.
    pub push_in_flight: IntGaugeVec,
    /// `oktaflow_push_in_flight_limit{source}`.
    pub push_in_flight_limit: IntGaugeVec,
    /// `oktaflow_push_ack_latency_seconds{source}`.
    pub push_ack_latency: HistogramVec,
}

impl Metrics {
    /// A fresh registry with every family registered.
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, MetricsError> {
                let vec = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(vec.clone()))?;
                Ok(vec)
            };
        let gauge =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, MetricsError> {
                let vec = IntGaugeVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(vec.clone()))?;
                Ok(vec)
            };
        // 1 ms .. ~65 s.
        let buckets = exponential_buckets(0.001, 2.0, 17)?;
        let histogram =
            |name: &str, help: &str, labels: &[&str]| -> Result<HistogramVec, MetricsError> {
                let vec = HistogramVec::new(
                    HistogramOpts::new(name, help).buckets(buckets.clone()),
                    labels,
                )?;
                registry.register(Box::new(vec.clone()))?;
                Ok(vec)
            };
        let source = &["source"];
        let source_sink = &["source", "sink"];
        Ok(Metrics {
            events_fetched: counter(
                "oktaflow_events_fetched_total",
                "Events received from Okta.",
                source,
            )?,
            events_normalized: counter(
                "oktaflow_events_normalized_total",
                "Events normalized to ECS.",
                source,
            )?,
            events_written: counter(
                "oktaflow_events_written_total",
                "Documents acknowledged durable by a sink (and checkpointed).",
                source_sink,
            )?,
            events_dead_lettered: counter(
                "oktaflow_events_dead_lettered_total",
                "Events written to the dead-letter file (reason: normalize or rejected).",
                &["source", "reason"],
            )?,
            events_published_unparsable: counter(
                "oktaflow_events_published_unparsable_total",
                "Events whose published time was missing or unparsable, written with the fetch time (tag okta_published_unparsable).",
                source,
            )?,
            requests: counter(
                "oktaflow_okta_requests_total",
                "System Log responses by HTTP status.",
                &["source", "status"],
            )?,
            rate_limited: counter(
                "oktaflow_okta_rate_limited_total",
                "HTTP 429 answers from Okta.",
                source,
            )?,
            retries: counter(
                "oktaflow_okta_retries_total",
                "Retried System Log requests.",
                source,
            )?,
            rate_limit_remaining: gauge(
                "oktaflow_okta_rate_limit_remaining",
                "The last X-Rate-Limit-Remaining seen.",
                source,
            )?,
            checkpoint_lag: gauge(
                "oktaflow_checkpoint_lag_seconds",
                "Now minus the published time of the last committed event.",
                source,
            )?,
            since_last_event: gauge(
                "oktaflow_seconds_since_last_event",
                "Seconds since the source last delivered an event (or since it started).",
                source,
            )?,
            source_silent: gauge(
                "oktaflow_source_silent",
                "1 while the source delivered no event for longer than its silence_alert.",
                source,
            )?,
            source_halted: gauge(
                "oktaflow_source_halted",
                "1 when the source stopped on an error retrying cannot fix.",
                source,
            )?,
            batch_duration: histogram(
                "oktaflow_batch_duration_seconds",
                "Time per batch and stage (fetch, normalize, write, checkpoint, commit = the three last).",
                &["source", "stage"],
            )?,
            sink_rejected: counter(
                "oktaflow_sink_documents_rejected_total",
                "Documents a sink refused for good (dead-lettered).",
                source_sink,
            )?,
            sink_errors: counter(
                "oktaflow_sink_errors_total",
                "Failed writes to an output: a sink, the checkpoint or the dead-letter file (each retry counts; kind: storage_full, io, unreachable, busy, auth, refused, state).",
                &["source", "sink", "kind"],
            )?,
            sink_failing: gauge(
                "oktaflow_sink_failing",
                "1 while writes to the sink are failing and being retried.",
                source_sink,
            )?,
            sink_write_duration: histogram(
                "oktaflow_sink_write_duration_seconds",
                "Time per successful batch write to a sink.",
                source_sink,
            )?,
            alerts: counter(
                "oktaflow_alerts_total",
                "Alerts raised by the detect stage and committed, per rule.",
                &["source", "rule"],
            )?,
            detect_keys: gauge(
                "oktaflow_detect_state_keys",
                "Keys (accounts, IPs, sessions) a stateful detection rule holds.",
                &["source", "rule"],
            )?,
            detect_evicted: counter(
                "oktaflow_detect_state_evicted_total",
                "Keys a stateful detection rule evicted at its max_keys_per_rule cap.",
                &["source", "rule"],
            )?,
            profiles: gauge(
                "oktaflow_profiles",
                "Users and devices in the source's profile store (identity enrichment).",
                &["source", "kind"],
            )?,
            profiles_synced: gauge(
                "oktaflow_profiles_synced_timestamp_seconds",
                "Unix time of the last successful profile refresh (0: never synced).",
                source,
            )?,
            profile_refreshes: counter(
                "oktaflow_profile_refreshes_total",
                "Profile refreshes by result (ok, error); a failed one keeps the last snapshot.",
                &["source", "result"],
            )?,
            profile_refresh_errors: counter(
                "oktaflow_profile_refresh_errors_total",
                "Failed profile refreshes by what failed (users, groups, admin role assignments, devices, store, ...).",
                &["source", "endpoint"],
            )?,
            profile_requests: counter(
                "oktaflow_profile_requests_total",
                "Requests the profile sync sent to Okta.",
                source,
            )?,
            profile_lookups: counter(
                "oktaflow_profile_lookups_total",
                "User and device lookups while normalizing (result: hit = profile joined, miss = unknown to the store).",
                &["source", "kind", "result"],
            )?,
            push_requests: counter(
                "oktaflow_push_requests_total",
                "Requests the push receiver answered, by HTTP status (200 durable, 401, 405, 413, 429 in-flight bound full, 503 not durable).",
                &["source", "status"],
            )?,
            push_events: counter(
                "oktaflow_push_events_total",
                "Pushed events answered 200: accepted (made durable), duplicate (a redelivery dropped), rejected (dead-lettered).",
                &["source", "outcome"],
            )?,
            push_in_flight: gauge(
                "oktaflow_push_in_flight",
                "Requests the push receiver is handling now (reading, queued, waiting to be durable).",
                source,
            )?,
            push_in_flight_limit: gauge(
                "oktaflow_push_in_flight_limit",
                "Requests the push receiver handles at once before answering 429 (max_in_flight).",
                source,
            )?,
            push_ack_latency: histogram(
                "oktaflow_push_ack_latency_seconds",
                "Time from a pushed request's body received to its 200 (batching, sinks, checkpoint).",
                source,
            )?,
            registry,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exposed_with_their_labels_and_values() {
        let metrics = Metrics::new().unwrap();
        metrics
            .events_fetched
            .with_label_values(&["prod"])
            .inc_by(7);
        metrics
            .requests
            .with_label_values(&["prod", "429"])
            .inc_by(2);
        metrics
            .batch_duration
            .with_label_values(&["prod", "write"])
            .observe(0.003);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("oktaflow_events_fetched_total{source=\"prod\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("oktaflow_okta_requests_total{source=\"prod\",status=\"429\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "oktaflow_batch_duration_seconds_bucket{source=\"prod\",stage=\"write\",le=\"0.004\"} 1"
            ),
            "{text}"
        );
    }
}

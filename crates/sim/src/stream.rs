//! The Log Streaming side of the simulator: an org's events pushed as AWS EventBridge
//! envelopes to a receiver URL (what an EventBridge API destination does with Okta Log
//! Streaming), while every event also goes into the simulator's System Log, which
//! `/api/v1/logs` serves: the ground truth ([`crate::SimHandle::delivered_order`]).
//!
//! Time is **simulated**: event `i` is published at `start + i / events_per_sec` (simulated
//! seconds) and is produced when the simulated clock, running `speed` times faster than the
//! wall clock, reaches it. Delivery is at least once and best effort, as Okta documents Log
//! Streaming:
//!
//! * each push is delayed by up to [`StreamConfig::max_delay`] (simulated);
//! * a share [`StreamConfig::reorder_rate`] is held back behind later events;
//! * a share [`StreamConfig::duplicate_rate`] is pushed a second time, later;
//! * during an [`Outage`] events go into the System Log but are never pushed (Log Streaming
//!   has no replay); with [`Outage::lifecycle`], the stream's own System Log events mark it:
//!   `system.log_stream.lifecycle.deactivate` when it stops (in the System Log only: the stream
//!   is down) and `system.log_stream.lifecycle.activate` when it is back (pushed too);
//! * a request that is not answered `2xx` (or not answered at all) is retried, as EventBridge
//!   retries, until it is or the stream is stopped.
//!
//! The envelope is EventBridge's for a partner event source: `version` `"0"`, an `id` per event
//! (kept by a duplicate), `detail-type` `"SystemLog"`, `source`
//! `aws.partner/okta.com/<org>/<event source name>`, `account`, `time` (published, to the
//! second), `region`, `resources` `[]` and `detail`, the LogEvent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::rng::Rng;
use crate::server::SystemLog;

/// A period in which the stream delivers nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// When it begins, in simulated time after [`StreamConfig::start`].
    pub at: Duration,
    /// How long it lasts (simulated).
    pub length: Duration,
    /// Whether the stream's lifecycle events mark it (deactivate at its start, in the System
    /// Log only; activate at its end, also pushed).
    pub lifecycle: bool,
}

/// What to stream, where, and how badly.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The receiver's URL (an API destination's endpoint).
    pub url: String,
    /// The API-key header the EventBridge connection sends.
    pub api_key_header: String,
    /// Its value.
    pub api_key: String,
    /// How many org events to produce (lifecycle events come on top).
    pub events: usize,
    /// Simulated time of the first event.
    pub start: DateTime<Utc>,
    /// Events per simulated second.
    pub events_per_sec: f64,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// Share (0..=1) of events pushed twice.
    pub duplicate_rate: f64,
    /// Share (0..=1) of events held back behind later ones.
    pub reorder_rate: f64,
    /// Longest delay of a push after its event is published (simulated).
    pub max_delay: Duration,
    /// Periods without delivery.
    pub outages: Vec<Outage>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Seed of the delays, duplicates and reordering.
    pub seed: u64,
    /// The org's name in the envelope's `source`.
    pub org: String,
    /// The event source name given when the log stream was created.
    pub event_source_name: String,
    /// The AWS account id.
    pub account: String,
    /// The AWS region.
    pub region: String,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            url: "http://127.0.0.1:8080/".to_string(),
            api_key_header: "x-oktaflow-key".to_string(),
            api_key: String::new(),
            events: 1_000,
            start: Utc::now() - TimeDelta::hours(2),
            events_per_sec: 2.0,
            speed: 60.0,
            duplicate_rate: 0.05,
            reorder_rate: 0.02,
            max_delay: Duration::from_secs(2),
            outages: Vec::new(),
            concurrency: 8,
            seed: 7,
            org: "example-org".to_string(),
            event_source_name: "oktaflow-stream".to_string(),
            account: "123456789012".to_string(),
            region: "us-east-1".to_string(),
        }
    }
}

/// What a stream did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// Events put into the System Log (org events and lifecycle events).
    pub events: u64,
    /// Events pushed at least once (answered `2xx`).
    pub streamed: u64,
    /// Events never pushed (during an outage).
    pub withheld: u64,
    /// Second pushes of an event.
    pub duplicates: u64,
    /// Events held back behind later ones.
    pub reordered: u64,
    /// Requests answered with something else than `2xx`, or not answered (then retried).
    pub failed_attempts: u64,
    /// Requests answered `2xx`.
    pub acknowledged: u64,
    /// uuids of the lifecycle events written, in order.
    pub lifecycle: Vec<String>,
    /// True when it was stopped before every push was answered.
    pub stopped_early: bool,
}

#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    streamed: AtomicU64,
    withheld: AtomicU64,
    duplicates: AtomicU64,
    reordered: AtomicU64,
    failed_attempts: AtomicU64,
    acknowledged: AtomicU64,
}

/// A running stream ([`LogStream::start`]).
#[derive(Debug)]
pub struct LogStream {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<StreamReport>,
    counters: Arc<Counters>,
}

impl LogStream {
    /// Starts streaming `config` into `log` (the simulator's System Log) and to the receiver.
    pub fn start(config: StreamConfig, log: SystemLog) -> LogStream {
        let (stop, stopped) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(config, log, stopped, Arc::clone(&counters)));
        LogStream {
            stop,
            task,
            counters,
        }
    }

    /// Requests answered `2xx` so far.
    pub fn acknowledged(&self) -> u64 {
        self.counters.acknowledged.load(Ordering::Relaxed)
    }

    /// Events put into the System Log so far.
    pub fn produced(&self) -> u64 {
        self.counters.events.load(Ordering::Relaxed)
    }

    /// True once every event is produced and every push answered.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until every event is produced and every push answered `2xx`.
    pub async fn finish(self) -> StreamReport {
        self.task.await.unwrap_or_default()
    }

    /// Stops producing and pushing (pushes not yet answered are abandoned) and reports.
    pub async fn stop(self) -> StreamReport {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// A uuid-shaped id from `rng`.
fn uuid_like(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The stream's own System Log event (`action`: `activate` or `deactivate`).
fn lifecycle_event(
    uuid: &str,
    published: DateTime<Utc>,
    action: &str,
    config: &StreamConfig,
) -> String {
    let name = &config.event_source_name;
    serde_json::json!({
        "uuid": uuid,
        "published": rfc3339(published),
        "eventType": format!("system.log_stream.lifecycle.{action}"),
        "version": "0",
        "severity": "INFO",
        "legacyEventType": null,
        "displayMessage": format!("{} log stream", if action == "activate" { "Activate" } else { "Deactivate" }),
        "actor": {"id": "system", "type": "SystemPrincipal", "alternateId": "system@okta.com", "displayName": "Okta System", "detailEntry": null},
        "client": null,
        "device": null,
        "authenticationContext": null,
        "securityContext": null,
        "debugContext": {"debugData": {}},
        "outcome": {"result": "SUCCESS", "reason": null},
        "transaction": {"type": "JOB", "id": uuid, "detail": {}},
        "target": [{"id": format!("0oa{}", &uuid[..8]), "type": "LogStream", "alternateId": name, "displayName": name, "detailEntry": null}],
        "request": {"ipChain": []}
    })
    .to_string()
}

/// The EventBridge envelope of `event` (its `detail`).
fn envelope(id: &str, published: DateTime<Utc>, event: &str, config: &StreamConfig) -> String {
    format!(
        r#"{{"version":"0","id":"{id}","detail-type":"SystemLog","source":"aws.partner/okta.com/{}/{}","account":"{}","time":"{}","region":"{}","resources":[],"detail":{event}}}"#,
        config.org,
        config.event_source_name,
        config.account,
        published.to_rfc3339_opts(SecondsFormat::Secs, true),
        config.region
    )
}

/// Simulated duration → wall-clock duration.
fn wall(simulated: Duration, speed: f64) -> Duration {
    Duration::from_secs_f64(simulated.as_secs_f64() / speed.max(1e-9))
}

async fn run(
    config: StreamConfig,
    log: SystemLog,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> StreamReport {
    let config = Arc::new(config);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut rng = Rng::new(config.seed ^ 0x7374_7265_616d);
    let mut pushes = JoinSet::new();
    let lifecycle = Arc::new(Mutex::new(Vec::new()));
    let started = tokio::time::Instant::now();
    let interval = 1.0 / config.events_per_sec.max(1e-9);
    // Held back this much further (simulated): behind the next few events and any delay.
    let hold_back = Duration::from_secs_f64(interval * 4.0) + config.max_delay;
    let mut in_outage = vec![false; config.outages.len()];
    let mut stopped_early = false;

    let push = |pushes: &mut JoinSet<()>,
                body: Arc<String>,
                delay: Duration,
                first: bool,
                stop: watch::Receiver<bool>| {
        let client = client.clone();
        let slots = Arc::clone(&slots);
        let config = Arc::clone(&config);
        let counters = Arc::clone(&counters);
        pushes.spawn(deliver(
            client, slots, config, counters, body, delay, first, stop,
        ));
    };

    for i in 0..config.events {
        let offset = Duration::from_secs_f64(i as f64 * interval);
        let published = config.start + TimeDelta::from_std(offset).unwrap_or_default();
        let due = started + wall(offset, config.speed);
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            _ = stop.changed() => { stopped_early = true; break; }
        }
        // Outages beginning or ending by now.
        let mut down = false;
        for (k, outage) in config.outages.iter().enumerate() {
            let inside = offset >= outage.at && offset < outage.at + outage.length;
            if inside && !in_outage[k] && outage.lifecycle {
                let at = config.start + TimeDelta::from_std(outage.at).unwrap_or_default();
                let uuid = uuid_like(&mut rng);
                log.append_json(&uuid, at, lifecycle_event(&uuid, at, "deactivate", &config));
                counters.events.fetch_add(1, Ordering::Relaxed);
                counters.withheld.fetch_add(1, Ordering::Relaxed);
                lifecycle.lock().map(|mut l| l.push(uuid)).unwrap_or(());
            }
            if !inside && in_outage[k] && outage.lifecycle {
                let end = outage.at + outage.length;
                let at = config.start + TimeDelta::from_std(end).unwrap_or_default();
                let uuid = uuid_like(&mut rng);
                let event = lifecycle_event(&uuid, at, "activate", &config);
                log.append_json(&uuid, at, event.clone());
                counters.events.fetch_add(1, Ordering::Relaxed);
                lifecycle
                    .lock()
                    .map(|mut l| l.push(uuid.clone()))
                    .unwrap_or(());
                let id = uuid_like(&mut rng);
                let body = Arc::new(envelope(&id, at, &event, &config));
                push(&mut pushes, body, Duration::ZERO, true, stop.clone());
            }
            in_outage[k] = inside;
            down |= inside;
        }
        let (_, event) = log.append_event(published);
        counters.events.fetch_add(1, Ordering::Relaxed);
        if down {
            counters.withheld.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let id = uuid_like(&mut rng);
        let body = Arc::new(envelope(&id, published, &event, &config));
        let mut delay = config.max_delay.mul_f64(rng.unit());
        if rng.chance(config.reorder_rate) {
            delay += hold_back;
            counters.reordered.fetch_add(1, Ordering::Relaxed);
        }
        push(
            &mut pushes,
            Arc::clone(&body),
            wall(delay, config.speed),
            true,
            stop.clone(),
        );
        if rng.chance(config.duplicate_rate) {
            let again = delay + config.max_delay + Duration::from_secs_f64(interval * 2.0);
            counters.duplicates.fetch_add(1, Ordering::Relaxed);
            push(
                &mut pushes,
                body,
                wall(again, config.speed),
                false,
                stop.clone(),
            );
        }
        // Reap finished pushes so the set stays small.
        while pushes.try_join_next().is_some() {}
    }
    loop {
        tokio::select! {
            next = pushes.join_next() => if next.is_none() { break },
            _ = stop.changed() => { stopped_early = true; pushes.abort_all(); break; }
        }
    }
    let lifecycle = lifecycle.lock().map(|l| l.clone()).unwrap_or_default();
    StreamReport {
        events: counters.events.load(Ordering::Relaxed),
        streamed: counters.streamed.load(Ordering::Relaxed),
        withheld: counters.withheld.load(Ordering::Relaxed),
        duplicates: counters.duplicates.load(Ordering::Relaxed),
        reordered: counters.reordered.load(Ordering::Relaxed),
        failed_attempts: counters.failed_attempts.load(Ordering::Relaxed),
        acknowledged: counters.acknowledged.load(Ordering::Relaxed),
        lifecycle,
        stopped_early,
    }
}

/// Pushes `body` after `delay`, retrying (as EventBridge does, with a short backoff) until it
/// is answered `2xx` or the stream stops.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    config: Arc<StreamConfig>,
    counters: Arc<Counters>,
    body: Arc<String>,
    delay: Duration,
    first: bool,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        _ = stop.changed() => return,
    }
    let mut backoff = Duration::from_millis(50);
    loop {
        let answered = {
            let Ok(_slot) = slots.acquire().await else {
                return;
            };
            client
                .post(&config.url)
                .header(config.api_key_header.as_str(), config.api_key.as_str())
                .header("content-type", "application/json")
                .body(body.as_bytes().to_vec())
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        };
        if answered {
            counters.acknowledged.fetch_add(1, Ordering::Relaxed);
            if first {
                counters.streamed.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SimConfig, Simulator};
    use axum::routing::post;
    use std::collections::HashSet;

    /// A receiver that records each body's `detail.uuid` and answers 503 to every 7th request.
    async fn receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
        let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let count = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().route(
            "/",
            post({
                let seen = Arc::clone(&seen);
                move |body: axum::body::Bytes| {
                    let seen = Arc::clone(&seen);
                    let count = Arc::clone(&count);
                    async move {
                        if count.fetch_add(1, Ordering::Relaxed) % 7 == 6 {
                            return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                        }
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(v["detail-type"], "SystemLog");
                        assert_eq!(v["version"], "0");
                        let source = v["source"].as_str().unwrap();
                        assert!(source.starts_with("aws.partner/okta.com/"), "{source}");
                        let uuid = v["detail"]["uuid"].as_str().unwrap().to_string();
                        let published = v["detail"]["published"].as_str().unwrap().to_string();
                        seen.lock().unwrap().push((uuid, published));
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicates_reordering_and_an_outage_against_the_system_log() {
        let sim = Simulator::start(
            SimConfig {
                events: 0,
                late_fraction: 0.0,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let (url, seen) = receiver().await;
        let config = StreamConfig {
            url,
            api_key: "k".into(),
            events: 600,
            events_per_sec: 10.0,
            speed: 600.0,
            duplicate_rate: 0.05,
            reorder_rate: 0.02,
            max_delay: Duration::from_secs(1),
            outages: vec![Outage {
                at: Duration::from_secs(20),
                length: Duration::from_secs(10),
                lifecycle: true,
            }],
            ..StreamConfig::default()
        };
        let report = LogStream::start(config, sim.system_log()).finish().await;
        let truth: HashSet<String> = sim.delivered_order().into_iter().collect();
        assert_eq!(truth.len(), 602, "600 events and 2 lifecycle events");
        assert_eq!(report.events, 602);
        // 100 events (10 s at 10/s) were withheld, plus the deactivation.
        assert_eq!(report.withheld, 101, "{report:?}");
        assert_eq!(report.lifecycle.len(), 2);
        let pushed = seen.lock().unwrap().clone();
        let unique: HashSet<&String> = pushed.iter().map(|(u, _)| u).collect();
        assert_eq!(unique.len() as u64, report.streamed);
        assert_eq!(report.streamed, 602 - 101);
        assert!(unique.iter().all(|u| truth.contains(*u)));
        assert_eq!(pushed.len() as u64, report.acknowledged);
        assert_eq!(
            report.acknowledged,
            report.streamed + report.duplicates,
            "{report:?}"
        );
        assert!(report.duplicates > 0 && report.reordered > 0, "{report:?}");
        assert!(
            report.failed_attempts > 0,
            "every 7th request is refused and retried"
        );
        // Some push arrived after one published later (reordering).
        let out_of_order = pushed.windows(2).filter(|w| w[1].1 < w[0].1).count();
        assert!(out_of_order > 0);
        // The activation was pushed, the deactivation was not.
        assert!(unique.contains(&report.lifecycle[1]));
        assert!(!unique.contains(&report.lifecycle[0]));
        sim.shutdown().await;
    }
}

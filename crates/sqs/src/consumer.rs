//! [`Consumer`]: long-polls the queue, hands each message to the pipeline as a
//! [`Delivery`], deletes it once acknowledged, extends its visibility while it waits.
//!
//! Two loops run in one task:
//!
//! * the **poller** takes in-flight slots (at most [`SqsConfig::max_in_flight`] messages
//!   received and not yet deleted or released: the memory bound), long-polls
//!   `ReceiveMessage` for as many messages as it holds slots (up to
//!   [`SqsConfig::max_messages`]) and queues one detached delivery per message. It keeps
//!   receiving while the pipeline writes, so the next batch gathers several receives.
//! * the **tracker** waits for each delivery's verdict. Acknowledged (durable in every sink
//!   and in the checkpoint): deleted with `DeleteMessageBatch`, all the deliveries decided
//!   at once together. Failed or dropped: made visible again at once
//!   (`ChangeMessageVisibilityBatch` to 0), so a restart receives it without waiting. Every
//!   tick it extends the visibility of the messages still waiting whose timeout is less
//!   than half left.
//!
//! A message whose delete fails stays in the queue and comes back after its visibility
//! timeout; the pipeline's uuid window then drops it as a duplicate. A permanent error
//! (credentials, permissions, a missing queue) ends the consumer: the delivery queue closes,
//! the push run ends, and [`Consumer::finish`] returns the error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use oktaflow_plumbing::{Backoff, RetryPolicy};
use oktaflow_push::{delivery_queue, Deliveries, Delivery, DeliverySender, Verdict};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::client::{SqsClient, SqsError};
use crate::config::SqsConfig;

/// How often a batch request that failed transiently is tried before its messages are left
/// to their visibility timeout.
const BATCH_ATTEMPTS: u32 = 5;

/// What the consumer did since it started (shared with the metrics; every field only
/// grows).
#[derive(Debug, Default)]
pub struct ConsumerStats {
    receives: AtomicU64,
    received: AtomicU64,
    deleted: AtomicU64,
    released: AtomicU64,
    extended: AtomicU64,
    batch_failures: AtomicU64,
    errors: AtomicU64,
}

impl ConsumerStats {
    /// `ReceiveMessage` requests answered.
    pub fn receives(&self) -> u64 {
        self.receives.load(Ordering::Relaxed)
    }
    /// Messages received (a message received twice counts twice).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    /// Messages deleted after their delivery was acknowledged.
    pub fn deleted(&self) -> u64 {
        self.deleted.load(Ordering::Relaxed)
    }
    /// Messages made visible again because their delivery failed.
    pub fn released(&self) -> u64 {
        self.released.load(Ordering::Relaxed)
    }
    /// Visibility extensions granted (one per message and extension).
    pub fn extended(&self) -> u64 {
        self.extended.load(Ordering::Relaxed)
    }
    /// Entries of batch requests SQS refused (e.g. a receipt handle no longer valid).
    pub fn batch_failures(&self) -> u64 {
        self.batch_failures.load(Ordering::Relaxed)
    }
    /// Requests that failed transiently and were retried.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// The running consumer of one queue (see the [module documentation](self)).
#[derive(Debug)]
pub struct Consumer {
    /// `None` once [`Consumer::finish`] took it; aborted when the consumer is dropped.
    task: Option<JoinHandle<Result<(), SqsError>>>,
    stats: Arc<ConsumerStats>,
    /// Tells the poller to stop receiving ([`Consumer::finish`]: the push run has ended).
    halt: watch::Sender<bool>,
}

struct Received {
    id: u64,
    receipt_handle: String,
    verdict: Verdict,
    slot: OwnedSemaphorePermit,
}

struct Waiting {
    receipt_handle: String,
    visible_until: Instant,
    _slot: OwnedSemaphorePermit,
}

impl Consumer {
    /// Starts consuming `client`'s queue with `config`'s long poll, visibility and limits,
    /// until `stop` turns true or a permanent error; returns the consumer and the queue of
    /// deliveries for `Pipeline::run_push`.
    pub fn spawn(
        client: SqsClient,
        config: &SqsConfig,
        stop: watch::Receiver<bool>,
    ) -> (Consumer, Deliveries) {
        let (sender, deliveries) = delivery_queue(config.max_in_flight);
        let stats = Arc::new(ConsumerStats::default());
        let settings = Settings {
            visibility: config.visibility_timeout,
            max_messages: config.max_messages.clamp(1, 10),
        };
        let slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
        let task_stats = Arc::clone(&stats);
        let (halt, halted) = watch::channel(false);
        let task = tokio::spawn(async move {
            let (registered, registrations) = mpsc::unbounded_channel();
            let (fatal, fatal_rx) = watch::channel(false);
            let poller = poll(
                &client,
                settings,
                [stop, fatal_rx, halted],
                sender,
                registered,
                slots,
                &task_stats,
            );
            let tracker = track(&client, settings, registrations, &task_stats, fatal);
            let (polled, tracked) = tokio::join!(poller, tracker);
            polled.and(tracked)
        });
        (
            Consumer {
                task: Some(task),
                stats,
                halt,
            },
            deliveries,
        )
    }

    /// The consumer's counters.
    pub fn stats(&self) -> Arc<ConsumerStats> {
        Arc::clone(&self.stats)
    }

    /// Stops receiving, then waits until the consumer has ended (once every received
    /// message is deleted or released), at most `grace`; then stops it (messages not yet
    /// deleted come back after their visibility timeout). Its permanent error, if any.
    pub async fn finish(mut self, grace: Duration) -> Result<(), SqsError> {
        // The push run has ended (a stop, or a failure without a stop request): nothing
        // received from now on would be taken.
        let _ = self.halt.send(true);
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(grace, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(SqsError::Body {
                action: "consumer",
                reason: format!("the consumer task ended abnormally: {join}"),
            }),
            Err(_) => {
                task.abort();
                tracing::warn!(
                    "SQS consumer: messages still undecided after {}s; they return to the queue after their visibility timeout",
                    grace.as_secs()
                );
                Ok(())
            }
        }
    }
}

impl Drop for Consumer {
    /// A consumer dropped before [`Consumer::finish`] stops at once (its undecided
    /// messages return after their visibility timeout).
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    visibility: Duration,
    max_messages: u32,
}

fn short_backoff() -> Backoff {
    Backoff::new(RetryPolicy {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(20),
    })
}

/// True once `stop` is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn poll(
    client: &SqsClient,
    settings: Settings,
    // The stop request, the tracker's fatal error, the end of the push run.
    [mut stop, mut fatal, mut halt]: [watch::Receiver<bool>; 3],
    sender: DeliverySender,
    registered: mpsc::UnboundedSender<Received>,
    slots: Arc<Semaphore>,
    stats: &ConsumerStats,
) -> Result<(), SqsError> {
    let mut backoff = short_backoff();
    let mut next_id: u64 = 0;
    loop {
        let first = tokio::select! {
            biased;
            () = stopped(&mut stop) => return Ok(()),
            () = stopped(&mut fatal) => return Ok(()),
            () = stopped(&mut halt) => return Ok(()),
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return Ok(()),
            },
        };
        let mut held = vec![first];
        while held.len() < settings.max_messages as usize {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => held.push(slot),
                Err(_) => break,
            }
        }
        let answer = tokio::select! {
            biased;
            () = stopped(&mut stop) => return Ok(()),
            () = stopped(&mut fatal) => return Ok(()),
            () = stopped(&mut halt) => return Ok(()),
            answer = client.receive(held.len() as u32, settings.visibility) => answer,
        };
        let messages = match answer {
            Ok(messages) => {
                backoff = short_backoff();
                messages
            }
            Err(error) if error.is_transient() => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                let delay = backoff.next_random_delay();
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "SQS receive failed; retrying");
                tokio::select! {
                    () = stopped(&mut stop) => return Ok(()),
                    () = stopped(&mut halt) => return Ok(()),
                    () = tokio::time::sleep(delay) => continue,
                }
            }
            Err(error) => return Err(error),
        };
        stats.receives.fetch_add(1, Ordering::Relaxed);
        stats
            .received
            .fetch_add(messages.len() as u64, Ordering::Relaxed);
        for message in messages {
            let Some(slot) = held.pop() else {
                // SQS returned more than asked: never, but do not hold it without a slot.
                break;
            };
            if message.receive_count() > 1 {
                tracing::debug!(message_id = %message.message_id, receive_count = message.receive_count(), "SQS message received again");
            }
            let (delivery, verdict) =
                Delivery::detached(Bytes::from(message.body), SystemTime::now());
            next_id += 1;
            let entry = Received {
                id: next_id,
                receipt_handle: message.receipt_handle,
                verdict,
                slot,
            };
            if registered.send(entry).is_err() {
                return Ok(());
            }
            if sender.send(delivery).await.is_err() {
                // The push run has ended: the tracker releases what it holds.
                return Ok(());
            }
        }
    }
}

async fn wait(id: u64, verdict: Verdict) -> (u64, Result<(), String>) {
    (id, verdict.await)
}

async fn track(
    client: &SqsClient,
    settings: Settings,
    mut registrations: mpsc::UnboundedReceiver<Received>,
    stats: &ConsumerStats,
    fatal: watch::Sender<bool>,
) -> Result<(), SqsError> {
    let mut waiting: HashMap<u64, Waiting> = HashMap::new();
    let mut verdicts = FuturesUnordered::new();
    let mut open = true;
    let every = (settings.visibility / 4).max(Duration::from_millis(250));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        if !open && waiting.is_empty() {
            break Ok(());
        }
        tokio::select! {
            entry = registrations.recv(), if open => match entry {
                Some(entry) => {
                    verdicts.push(wait(entry.id, entry.verdict));
                    waiting.insert(entry.id, Waiting {
                        receipt_handle: entry.receipt_handle,
                        visible_until: Instant::now() + settings.visibility,
                        _slot: entry.slot,
                    });
                }
                None => open = false,
            },
            Some(first) = verdicts.next(), if !verdicts.is_empty() => {
                let mut decided = vec![first];
                while let Some(Some(next)) = verdicts.next().now_or_never() {
                    decided.push(next);
                }
                let mut acked = Vec::new();
                let mut failed = Vec::new();
                for (id, verdict) in decided {
                    let Some(entry) = waiting.remove(&id) else { continue };
                    match verdict {
                        Ok(()) => acked.push(entry),
                        Err(_) => failed.push(entry),
                    }
                }
                if let Err(error) = settle(client, stats, acked, failed).await {
                    break Err(error);
                }
            }
            _ = tick.tick() => {
                if let Err(error) = extend(client, settings, stats, &mut waiting).await {
                    break Err(error);
                }
            }
        }
    };
    if result.is_err() {
        let _ = fatal.send(true);
        // Hand back whatever is still undecided so that the next run gets it at once.
        let rest: Vec<String> = waiting.values().map(|w| w.receipt_handle.clone()).collect();
        if !rest.is_empty() {
            let _ = client.change_visibility(&rest, Duration::ZERO).await;
        }
    }
    result
}

/// Deletes the acknowledged messages and makes the failed ones visible again.
async fn settle(
    client: &SqsClient,
    stats: &ConsumerStats,
    acked: Vec<Waiting>,
    failed: Vec<Waiting>,
) -> Result<(), SqsError> {
    if !acked.is_empty() {
        let handles: Vec<String> = acked.iter().map(|w| w.receipt_handle.clone()).collect();
        let Some(refused) = with_retries(stats, || client.delete(&handles)).await? else {
            return Ok(());
        };
        note_refused(stats, "delete", &refused);
        stats
            .deleted
            .fetch_add((handles.len() - refused.len()) as u64, Ordering::Relaxed);
    }
    if !failed.is_empty() {
        let handles: Vec<String> = failed.iter().map(|w| w.receipt_handle.clone()).collect();
        let Some(refused) =
            with_retries(stats, || client.change_visibility(&handles, Duration::ZERO)).await?
        else {
            return Ok(());
        };
        note_refused(stats, "release", &refused);
        stats
            .released
            .fetch_add((handles.len() - refused.len()) as u64, Ordering::Relaxed);
    }
    // The slots of `acked` and `failed` are freed here: the poller may receive again.
    Ok(())
}

/// Extends the visibility of every waiting message with less than half of it left.
async fn extend(
    client: &SqsClient,
    settings: Settings,
    stats: &ConsumerStats,
    waiting: &mut HashMap<u64, Waiting>,
) -> Result<(), SqsError> {
    let now = Instant::now();
    let due: Vec<u64> = waiting
        .iter()
        .filter(|(_, w)| w.visible_until.saturating_duration_since(now) < settings.visibility / 2)
        .map(|(id, _)| *id)
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let handles: Vec<String> = due
        .iter()
        .filter_map(|id| waiting.get(id).map(|w| w.receipt_handle.clone()))
        .collect();
    let Some(refused) = with_retries(stats, || {
        client.change_visibility(&handles, settings.visibility)
    })
    .await?
    else {
        return Ok(());
    };
    note_refused(stats, "extend visibility of", &refused);
    let until = now + settings.visibility;
    for id in due {
        if let Some(entry) = waiting.get_mut(&id) {
            if !refused
                .iter()
                .any(|r| r.receipt_handle == entry.receipt_handle)
            {
                entry.visible_until = until;
            }
        }
    }
    stats
        .extended
        .fetch_add((handles.len() - refused.len()) as u64, Ordering::Relaxed);
    Ok(())
}

fn note_refused(stats: &ConsumerStats, what: &str, refused: &[crate::client::BatchFailure]) {
    if let Some(first) = refused.first() {
        stats
            .batch_failures
            .fetch_add(refused.len() as u64, Ordering::Relaxed);
        tracing::warn!(
            refused = refused.len(),
            code = %first.code,
            message = %first.message,
            "SQS refused to {what} some messages; they return after their visibility timeout and are dropped as duplicates"
        );
    }
}

/// `call`, retried with backoff while it fails transiently; `None` when it still fails
/// after [`BATCH_ATTEMPTS`] (its messages are left to their visibility timeout).
async fn with_retries<T, F, Fut>(stats: &ConsumerStats, mut call: F) -> Result<Option<T>, SqsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SqsError>>,
{
    let mut backoff = short_backoff();
    loop {
        match call().await {
            Ok(value) => return Ok(Some(value)),
            Err(error) if error.is_transient() => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                if backoff.attempts() + 1 >= BATCH_ATTEMPTS {
                    tracing::warn!(error = %error, "SQS request still failing; its messages return after their visibility timeout");
                    return Ok(None);
                }
                let delay = backoff.next_random_delay();
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "SQS request failed; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(error) => return Err(error),
        }
    }
}

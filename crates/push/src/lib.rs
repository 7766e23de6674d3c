//! The push receiver of oktaflow: the HTTPS endpoint that an AWS EventBridge **API
//! destination** posts Okta Log Streaming events to (one EventBridge envelope per request,
//! its `detail` the Okta LogEvent).
//!
//! * [`ReceiverConfig`]: where to listen, the TLS certificate and key files (plain HTTP only
//!   on a loopback address), how requests authenticate ([`Auth`]: an API-key header or Basic,
//!   as an EventBridge connection sends them), the request size limit, the in-flight bound
//!   and how long a request waits for its event to become durable.
//! * [`Receiver`]: the bound listener; [`Receiver::serve`] answers requests until shut down.
//!   Every accepted request becomes a [`Delivery`] on the [`Deliveries`] queue; the request is
//!   answered `200` only once the consumer (the pipeline) calls [`Delivery::ack`], i.e. once
//!   the event is durable in every sink and in the checkpoint, and `503` when it calls
//!   [`Delivery::fail`], drops the delivery, or does not answer within
//!   [`ReceiverConfig::ack_timeout`] (EventBridge then retries).
//! * Refusals: `401` for a missing or wrong credential (compared in constant time), `413`
//!   for a body over [`ReceiverConfig::max_body`], `429` when [`ReceiverConfig::max_in_flight`]
//!   requests are already being handled (memory stays bounded by
//!   `max_in_flight × max_body`), `405` for a method other than POST or PUT.
//! * [`ReceiverStats`]: counters of every answer and the number in flight, for the metrics.
//!
//! The crate does not parse the envelope: what the body holds is the pipeline's business
//! (a malformed body is dead-lettered there, with its reason, and then acknowledged).

mod auth;
mod config;
mod server;
mod settings;
mod stats;

pub use auth::Auth;
/// The name of the API-key header ([`Auth::ApiKey`]).
pub use axum::http::HeaderName;
pub use config::{
    ConfigError, ReceiverConfig, TlsFiles, DEFAULT_ACK_TIMEOUT, DEFAULT_MAX_BODY,
    DEFAULT_MAX_IN_FLIGHT,
};
pub use server::{
    delivery_queue, Deliveries, Delivery, DeliverySender, Receiver, ServeError, Verdict,
};
pub use settings::ReceiverSettings;
pub use stats::ReceiverStats;

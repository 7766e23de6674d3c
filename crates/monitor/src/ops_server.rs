//! The operations endpoint of `oktaflow run` (`--metrics-listen` / `[metrics] listen`):
//!
//! * `GET /metrics` — Prometheus text exposition of [`Metrics`].
//! * `GET /health` — liveness: `200 ok` while the process runs.
//! * `GET /ready` — readiness: `200` when every source is running, has fetched within its
//!   interval (+ [`READY_MARGIN`](crate::source_monitor::READY_MARGIN)) and no sink of it is
//!   failing, `503` otherwise; the body is JSON detail per source either way.
//!
//! The endpoint has no authentication: both bodies go through
//! [`oktaflow_plumbing::scrub`], so no configured secret is ever served, whatever text
//! carried it (an error quoting a server's answer, a sink name).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oktaflow_plumbing::scrub;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::source_monitor::{SourceMonitor, SourceReport};

/// What the endpoint reads.
#[derive(Debug, Clone)]
pub struct OpsState {
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// One monitor per source, in config order.
    pub monitors: Arc<Vec<Arc<SourceMonitor>>>,
}

/// The `/ready` body.
#[derive(Debug, Serialize)]
pub struct ReadyReport {
    /// True when every source is ready.
    pub ready: bool,
    /// Each source's detail.
    pub sources: Vec<SourceReport>,
}

impl OpsState {
    /// The readiness of every source, freshly ticked.
    pub fn ready(&self) -> ReadyReport {
        let sources: Vec<SourceReport> = self
            .monitors
            .iter()
            .map(|m| {
                m.tick();
                m.report()
            })
            .collect();
        ReadyReport {
            ready: sources.iter().all(|s| s.ready),
            sources,
        }
    }
}

/// Serves the endpoint on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: OpsState) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(state);
    axum::serve(listener, app).await
}

async fn metrics(State(state): State<OpsState>) -> Response {
    for monitor in state.monitors.iter() {
        monitor.tick();
    }
    match state.metrics.encode() {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            scrub(&text).into_owned(),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(state): State<OpsState>) -> Response {
    let report = state.ready();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    match serde_json::to_string(&report) {
        Ok(json) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            scrub(&json).into_owned(),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

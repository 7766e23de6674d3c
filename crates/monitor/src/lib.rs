//! Watching a running oktaflow pipeline, for the people who operate it.
//!
//! * [`Metrics`]: the Prometheus registry of `oktaflow run`, labelled by source and sink (the
//!   names are the contract of `docs/operations.md`).
//! * [`SourceMonitor`]: a [`PipelineObserver`](oktaflow_pipeline::PipelineObserver) per
//!   source that records into the metrics, keeps the readiness detail of `/ready` and raises
//!   the silence alert; [`watch`] ticks every monitor once a second.
//! * [`serve`]: the operations endpoint (`/metrics`, `/health`, `/ready`).
//!
//! The pipeline knows none of this: it only calls its observers.

mod metrics;
mod ops_server;
mod source_monitor;

pub use metrics::{Metrics, MetricsError};
pub use ops_server::{serve, OpsState, ReadyReport};
pub use source_monitor::{
    watch, RunState, SinkReport, SourceMonitor, SourceReport, READY_MARGIN, TICK,
};

//! In-process emulators of the stores oktaflow writes to, for tests and benches only
//! (a dev-dependency: the shipped binary never links them). They are **not** the real
//! servers: they implement the documented semantics a client depends on, keep what they
//! receive in memory, and can inject faults.
//!
//! * [`elasticsearch::EsEmulator`]: the Elasticsearch / OpenSearch `_bulk` API, index
//!   templates and data streams.
//! * [`splunk::HecEmulator`]: a Splunk HTTP Event Collector and a plain NDJSON collector.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use oktaflow_store_emulators::elasticsearch::EsEmulator;
//! let es = EsEmulator::start(([127, 0, 0, 1], 0).into()).await?;
//! println!("bulk endpoint at {}", es.base_url());
//! # Ok(())
//! # }
//! ```

pub mod elasticsearch;
pub mod splunk;

//! Checks of one Okta source: [`oktaflow_fetch::probe`] (resolve, connect, one System Log
//! request) as rows of the `check` table.

use oktaflow_fetch::ProbeOutcome;
use tracing::{debug, Instrument};

use crate::config::SourceConfig;
use crate::logging::source_span;

use super::report::Row;

/// Runs the checks of `source`; the rows in order: resolve, connect, system log.
pub async fn check_source(source: &SourceConfig) -> Vec<Row> {
    let span = source_span(&source.name);
    async {
        debug!(org = source.client.org.label(), "checking source");
        let subject = format!("source {}", source.name);
        oktaflow_fetch::probe(&source.client, source.start_from)
            .await
            .into_iter()
            .map(|step| match step.outcome {
                ProbeOutcome::Ok(detail) => Row::ok(&subject, step.check, detail),
                ProbeOutcome::Fail(detail) => Row::fail(&subject, step.check, detail),
                ProbeOutcome::Skipped(detail) => Row::skipped(&subject, step.check, detail),
            })
            .collect()
    }
    .instrument(span)
    .await
}

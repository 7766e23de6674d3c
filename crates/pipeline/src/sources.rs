//! Several sources at once: each configured Okta org runs its own [`Pipeline`] concurrently
//! on the current runtime; a failing source halts alone while the others go on.

use std::path::PathBuf;

use futures_util::future::join_all;
use tokio::sync::watch;
use tracing::{error, info, Instrument, Span};

use crate::{Pipeline, PipelineError};

/// Runs every `(name, state directory, pipeline, span)` concurrently until each has ended or
/// `stop` turns `true`; each runs inside its span and logs its end. The failures, in the
/// given order (a panicked pipeline task is an [`PipelineError::Internal`]).
pub async fn run_sources(
    sources: Vec<(String, PathBuf, Pipeline, Span)>,
    stop: watch::Receiver<bool>,
) -> Vec<(String, PipelineError)> {
    let several = sources.len() > 1;
    let names: Vec<String> = sources.iter().map(|(name, ..)| name.clone()).collect();
    let runs = sources
        .into_iter()
        .map(|(name, state_dir, pipeline, span)| {
            let stop = stop.clone();
            tokio::spawn(
                async move {
                    let result = pipeline.run(stop).await;
                    match &result {
                        Ok(summary) => info!(
                            source = %name,
                            written = summary.written,
                            elapsed_secs = summary.elapsed.as_secs_f64(),
                            state_dir = %state_dir.display(),
                            "done"
                        ),
                        // A single source's error is the process's one-line error message.
                        Err(error) if several => error!(
                            source = %name,
                            error = %error,
                            "source stopped; the other sources go on"
                        ),
                        Err(_) => {}
                    }
                    result
                }
                .instrument(span),
            )
        });
    let mut failed = Vec::new();
    for (name, joined) in names.into_iter().zip(join_all(runs).await) {
        match joined {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => failed.push((name, error)),
            Err(error) => failed.push((name, PipelineError::Internal(error.to_string()))),
        }
    }
    failed
}

/// The sources that failed while others ran; `Display` names each with its error.
#[derive(Debug)]
pub struct SourcesFailed(pub Vec<(String, PipelineError)>);

impl std::fmt::Display for SourcesFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = if self.0.len() == 1 {
            "source"
        } else {
            "sources"
        };
        write!(f, "{} {noun} failed:", self.0.len())?;
        for (i, (name, error)) in self.0.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            write!(f, "{sep}{name}: {error}")?;
        }
        Ok(())
    }
}

//! [`PipelineError`]: why a run failed.

use oktaflow_fetch::FetchError;
use oktaflow_sink::SinkError;

use crate::checkpoint::CheckpointError;
use crate::dead_letter::DeadLetterError;
use crate::lock::LockError;

/// Why a run failed. `Display` is one line. It carries no exit code: the caller maps each
/// case (configuration and state problems found before any work, a halt of the source, I/O
/// failures while running) to its own.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The sinks or paths are configured inconsistently.
    #[error("{0}")]
    Config(String),
    /// The state directory could not be locked: another process uses it
    /// ([`LockError::Busy`]), or it is not a directory.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A sink could not be made consistent with the checkpoint.
    #[error("{0}")]
    Recover(SinkError),
    /// A sink failed in a way retrying cannot fix while writing.
    #[error("{0}")]
    Write(SinkError),
    /// The dead-letter file could not be opened, recovered or written
    /// ([`DeadLetterError::is_write`] tells which).
    #[error(transparent)]
    DeadLetter(#[from] DeadLetterError),
    /// The source halted on an error retrying cannot fix (or its configuration is invalid).
    #[error(transparent)]
    Halt(#[from] FetchError),
    /// An output (a sink, the dead-letter file or the checkpoint) kept failing with an error
    /// that may pass (a full disk, a store that is down) for the whole
    /// [`output_retry_limit`](crate::PipelineConfig::output_retry_limit). Nothing was lost:
    /// the batch was not committed and is fetched again on the next start.
    #[error("{error} — still failing after {}s of retries; free space or bring the store back, then start again (nothing is lost)", .after.as_secs())]
    OutputDown {
        /// The output's last error.
        error: String,
        /// How long it had been failing.
        after: std::time::Duration,
    },
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

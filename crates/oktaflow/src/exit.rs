//! Exit codes shared by every subcommand (documented in `oktaflow --help`).

use std::process::ExitCode;

use oktaflow_fetch::FetchErrorKind;
use oktaflow_pipeline::{CheckpointError, LockError, PipelineError};

/// How `oktaflow` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything done (or stopped cleanly on a signal).
    Ok = 0,
    /// Finished, but some inputs were rejected (dead-lettered).
    Rejected = 1,
    /// Bad command line or configuration; nothing was done.
    Usage = 2,
    /// Halted on an Okta error that retrying cannot fix (400/401/403/404).
    OktaHalt = 3,
    /// An input could not be read or an output written while running.
    Io = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code of a failed pipeline: 2 for configuration and state problems found before
/// any work (a state directory in use by another process included), 3 for an Okta halt, 4
/// for I/O failures while running.
pub fn pipeline_exit(error: &PipelineError) -> Exit {
    match error {
        PipelineError::Config(_) | PipelineError::Recover(_) => Exit::Usage,
        PipelineError::Lock(LockError::Io { .. }) => Exit::Io,
        PipelineError::Lock(_) => Exit::Usage,
        PipelineError::Checkpoint(CheckpointError::Io { .. }) => Exit::Io,
        PipelineError::Checkpoint(_) => Exit::Usage,
        PipelineError::DeadLetter(e) if e.is_write() => Exit::Io,
        PipelineError::DeadLetter(_) => Exit::Usage,
        PipelineError::Halt(e) if e.kind() == FetchErrorKind::Config => Exit::Usage,
        PipelineError::Halt(_) => Exit::OktaHalt,
        PipelineError::Write(_) | PipelineError::OutputDown { .. } => Exit::Io,
        PipelineError::Internal(_) => Exit::Io,
    }
}

/// The exit-code table appended to `oktaflow --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  finished, but some inputs were rejected (written to the dead-letter output)
  2  bad usage or configuration: nothing was done
  3  halted on an Okta error that retrying cannot fix (400, 401, 403, 404)
  4  an input could not be read or an output written while running";

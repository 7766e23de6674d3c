//! [`SinkError`]: why a sink could not recover or write.

use std::io;
use std::path::PathBuf;

/// An error from a sink. Messages are one line and say what to do; none contains a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// An operating-system I/O error.
    #[error("{sink}: cannot {action}: {error}")]
    Io {
        /// The sink's name.
        sink: String,
        /// What the sink was doing, e.g. "write batch".
        action: &'static str,
        /// The underlying error.
        error: io::Error,
    },
    /// The position handed to [`Sink::recover`](crate::Sink::recover) is not one
    /// this kind of sink writes (corrupt or hand-edited checkpoint).
    #[error("{sink}: the checkpoint's position {position} is not usable: {reason}")]
    InvalidPosition {
        /// The sink's name.
        sink: String,
        /// The position as recorded.
        position: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The checkpoint was written for another output file.
    #[error(
        "the checkpoint records output file {recorded} but this run writes {configured}; \
         use the same file, or another state directory for a new file"
    )]
    PathMismatch {
        /// The path in the checkpoint.
        recorded: PathBuf,
        /// The path configured now.
        configured: PathBuf,
    },
    /// The output file is shorter than the committed offset in the checkpoint:
    /// documents already delivered were removed or the file was replaced.
    #[error(
        "{path} holds {actual} bytes but the checkpoint records {recorded} committed bytes: \
         delivered events were removed outside oktaflow; restore the file, or start over \
         with a new state directory"
    )]
    ShortFile {
        /// The output file.
        path: PathBuf,
        /// Its current length.
        actual: u64,
        /// The committed length recorded in the checkpoint.
        recorded: u64,
    },
    /// The rotated files beside the output file contradict the checkpoint or the sink's own
    /// record: a file oktaflow would have written is missing, or one it would not have
    /// written is there.
    #[error(
        "{path}: {reason}; the output files were changed outside oktaflow: restore them, \
         or start over with a new state directory"
    )]
    Segments {
        /// The file that does not fit.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// The output file holds data that no checkpoint accounts for.
    #[error(
        "{path} already holds {len} bytes but no checkpoint records them (state directory \
         lost, or a different file given); restore the state directory, or move the file \
         away (or write to another file) to start a new one"
    )]
    UnrecordedData {
        /// The output file.
        path: PathBuf,
        /// Its current length.
        len: u64,
    },
    /// Another process (or another sink of this one) holds the lock on the output file.
    #[error(
        "{path} is being written by another process{}; stop it, or write to another file",
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked {
        /// The output file.
        path: PathBuf,
        /// The holder's pid, when the operating system tells.
        pid: Option<u32>,
    },
    /// The store could not be reached: connection refused or reset, DNS, timeout.
    #[error("{sink}: cannot reach the store: {detail}")]
    Unreachable {
        /// The sink's name.
        sink: String,
        /// What failed (never contains a secret).
        detail: String,
    },
    /// The store answered but is overloaded or failing (HTTP 429 or 5xx), or some
    /// documents still failed with such a status after the sink's own retries.
    #[error("{sink}: the store is busy or failing (HTTP {status}): {detail}")]
    Busy {
        /// The sink's name.
        sink: String,
        /// The HTTP status.
        status: u16,
        /// The store's explanation.
        detail: String,
    },
    /// The store refused the credentials (HTTP 401) or the permission (HTTP 403).
    #[error("{sink}: the store refused oktaflow's credentials (HTTP {status}: {detail}) — {hint}")]
    Auth {
        /// The sink's name.
        sink: String,
        /// The HTTP status.
        status: u16,
        /// The store's explanation.
        detail: String,
        /// What to check.
        hint: &'static str,
    },
    /// The store refused the request for a reason retrying cannot fix (missing table
    /// or index, malformed request): the configuration or the store needs a change.
    #[error("{sink}: the store refused the request (HTTP {status}): {detail}")]
    Refused {
        /// The sink's name.
        sink: String,
        /// The HTTP status.
        status: u16,
        /// The store's explanation and, when known, the fix.
        detail: String,
    },
    /// `write_batch` was called before a successful `recover`, or after a failed
    /// write left the store in an unknown state.
    #[error("{sink}: not recovered: restart so the sink is recovered from the last checkpoint")]
    NotRecovered {
        /// The sink's name.
        sink: String,
    },
}

impl SinkError {
    /// Whether retrying the same call later may succeed (the store is consistent and
    /// the cause may go away, e.g. a full disk or a store that is down). Errors that
    /// need an operator (a bad checkpoint, a file changed behind oktaflow's back, a
    /// closed pipe, a permission problem) are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            SinkError::Io { error, .. } => io_may_pass(error.kind()),
            SinkError::Unreachable { .. } | SinkError::Busy { .. } => true,
            SinkError::Auth { .. } | SinkError::Refused { .. } => false,
            SinkError::InvalidPosition { .. }
            | SinkError::PathMismatch { .. }
            | SinkError::ShortFile { .. }
            | SinkError::Segments { .. }
            | SinkError::UnrecordedData { .. }
            | SinkError::Locked { .. }
            | SinkError::NotRecovered { .. } => false,
        }
    }

    /// A short stable label of the failure, for the `kind` label of
    /// `oktaflow_sink_errors_total`: `storage_full` (disk full, quota exceeded, file too
    /// large), `io` (another OS I/O error), `unreachable`, `busy`, `auth`, `refused`,
    /// `locked` (another process writes the output file), or `state` (a checkpoint or output that does not fit, a sink not recovered).
    pub fn kind(&self) -> &'static str {
        match self {
            SinkError::Io { error, .. } => io_kind(error.kind()),
            SinkError::Unreachable { .. } => "unreachable",
            SinkError::Busy { .. } => "busy",
            SinkError::Auth { .. } => "auth",
            SinkError::Refused { .. } => "refused",
            SinkError::Locked { .. } => "locked",
            SinkError::InvalidPosition { .. }
            | SinkError::PathMismatch { .. }
            | SinkError::ShortFile { .. }
            | SinkError::Segments { .. }
            | SinkError::UnrecordedData { .. }
            | SinkError::NotRecovered { .. } => "state",
        }
    }
}

/// Whether an OS I/O error on an output may pass by itself (a full disk, an exceeded quota,
/// an interrupted or failing device), so that writing the same data again later may
/// succeed. A broken pipe, a permission, a missing path or directory, a read-only file
/// system need an operator. The one rule for every output: sinks, the checkpoint and the
/// dead-letter file.
pub fn io_may_pass(kind: io::ErrorKind) -> bool {
    !matches!(
        kind,
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::NotFound
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The `kind` label of an OS I/O error on an output: `storage_full` for a full disk
/// (`ENOSPC`), an exceeded quota (`EDQUOT`) or a file over its size limit (`EFBIG`), `io`
/// otherwise.
pub fn io_kind(kind: io::ErrorKind) -> &'static str {
    match kind {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge => {
            "storage_full"
        }
        _ => "io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_io_errors_are_retryable_and_operator_errors_are_not() {
        let io = |kind| SinkError::Io {
            sink: "file:/x".into(),
            action: "write batch",
            error: io::Error::from(kind),
        };
        assert!(io(io::ErrorKind::StorageFull).is_retryable());
        assert_eq!(io(io::ErrorKind::StorageFull).kind(), "storage_full");
        assert_eq!(io(io::ErrorKind::FileTooLarge).kind(), "storage_full");
        assert_eq!(io(io::ErrorKind::Interrupted).kind(), "io");
        assert!(io(io::ErrorKind::Interrupted).is_retryable());
        assert!(!io(io::ErrorKind::BrokenPipe).is_retryable());
        assert!(!io(io::ErrorKind::PermissionDenied).is_retryable());
        let short = SinkError::ShortFile {
            path: "/x".into(),
            actual: 1,
            recorded: 2,
        };
        assert!(!short.is_retryable());
        assert!(!short.to_string().contains('\n'));
    }

    #[test]
    fn store_outages_are_retryable_and_refusals_are_not() {
        let busy = SinkError::Busy {
            sink: "elasticsearch:http://es:9200".into(),
            status: 503,
            detail: "unavailable".into(),
        };
        assert!(busy.is_retryable());
        let auth = SinkError::Auth {
            sink: "elasticsearch:http://es:9200".into(),
            status: 401,
            detail: "security_exception".into(),
            hint: "check the API key",
        };
        assert!(!auth.is_retryable());
        assert_eq!(
            auth.to_string(),
            "elasticsearch:http://es:9200: the store refused oktaflow's credentials \
             (HTTP 401: security_exception) — check the API key"
        );
    }
}

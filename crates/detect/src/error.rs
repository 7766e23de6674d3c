//! Error types.

/// Why a detector could not be built, restored, or an event could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// The event is not valid JSON (or not UTF-8).
    #[error("event is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The event is JSON but not an object.
    #[error("event is not a JSON object (a LogEvent, a {{\"message\": ...}} wrapper or an EventBridge envelope)")]
    NotAnObject,
    /// A field every LogEvent has (uuid, published, eventType) is missing, null or empty.
    #[error("LogEvent has no `{0}`")]
    MissingField(&'static str),
    /// `published` is not an RFC 3339 timestamp.
    #[error("LogEvent `published` is unusable: `{0}` is not an RFC 3339 timestamp")]
    InvalidPublished(String),
    /// A rule setting is out of range (a threshold of 0, a window of 0, ...).
    #[error("detection rule `{rule}`: {reason}")]
    InvalidConfig {
        /// The rule id (`okta.brute_force_logins`) or `detect` for global settings.
        rule: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// Saved state written by a newer, incompatible version of the state format.
    #[error(
        "detection state version {found} is not supported (this build reads version {supported})"
    )]
    StateVersion {
        /// The version in the saved state.
        found: u32,
        /// The version this build writes and reads.
        supported: u32,
    },
    /// A Sigma rule file (or rule set) could not be read as Sigma, or a rule in it does not
    /// compile.
    #[error("Sigma rules {origin}: {reason}")]
    Sigma {
        /// The rule file(s), or the name given to the YAML text.
        origin: String,
        /// What the parser or the engine said.
        reason: String,
    },
    /// A rule file or folder could not be read.
    #[error("cannot read Sigma rules {path}: {error}")]
    RuleFile {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// The configuration names Sigma rule files, but they were not loaded: build the detector
    /// with `Detector::load` (reads them) or `Detector::with_sigma`.
    #[error(
        "the configuration names Sigma rules (`rules`) but they were not loaded: build the \
         detector with Detector::load or Detector::with_sigma"
    )]
    SigmaNotLoaded,
}

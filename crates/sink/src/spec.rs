//! Sink specs as given on the command line: `file:PATH` or `stdout`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{ExistingFile, FileSink, Sink, StdoutSink};

/// A parsed sink spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `stdout`: NDJSON on standard output ([`StdoutSink`]).
    Stdout,
    /// `file:PATH`: NDJSON appended to a file ([`FileSink`]).
    File(PathBuf),
}

/// Why a sink spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkSpecError {
    /// `file:` without a path.
    #[error("sink spec \"file:\" needs a path, e.g. file:okta.ndjson")]
    MissingPath,
    /// A kind of sink oktaflow does not know.
    #[error("unknown sink spec \"{0}\": expected file:PATH or stdout")]
    Unknown(String),
}

/// Parses `file:PATH` or `stdout`.
pub fn parse_sink_spec(spec: &str) -> Result<SinkSpec, SinkSpecError> {
    if spec == "stdout" {
        return Ok(SinkSpec::Stdout);
    }
    match spec.strip_prefix("file:") {
        Some("") => Err(SinkSpecError::MissingPath),
        Some(path) => Ok(SinkSpec::File(PathBuf::from(path))),
        None => Err(SinkSpecError::Unknown(spec.to_owned())),
    }
}

impl FromStr for SinkSpec {
    type Err = SinkSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_sink_spec(s)
    }
}

impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::Stdout => f.write_str("stdout"),
            SinkSpec::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl SinkSpec {
    /// Builds the sink (nothing is opened yet: that happens in
    /// [`Sink::recover`]). `existing` applies to file sinks only.
    pub fn build(&self, existing: ExistingFile) -> std::io::Result<Box<dyn Sink>> {
        Ok(match self {
            SinkSpec::Stdout => Box::new(StdoutSink::new()),
            SinkSpec::File(path) => Box::new(FileSink::new(path, existing)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_known_specs() {
        assert_eq!(parse_sink_spec("stdout"), Ok(SinkSpec::Stdout));
        assert_eq!(
            parse_sink_spec("file:/var/lib/okta.ndjson"),
            Ok(SinkSpec::File("/var/lib/okta.ndjson".into()))
        );
        assert_eq!(
            parse_sink_spec("file:out:with:colons.ndjson"),
            Ok(SinkSpec::File("out:with:colons.ndjson".into()))
        );
        assert_eq!("file:x".parse::<SinkSpec>(), Ok(SinkSpec::File("x".into())));
    }

    #[test]
    fn refuses_unknown_and_incomplete_specs() {
        assert_eq!(parse_sink_spec("file:"), Err(SinkSpecError::MissingPath));
        for bad in ["", "STDOUT", "stdout:", "/tmp/out.ndjson", "es:http://x"] {
            assert_eq!(
                parse_sink_spec(bad),
                Err(SinkSpecError::Unknown(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for spec in ["stdout", "file:relative/out.ndjson"] {
            assert_eq!(parse_sink_spec(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn builds_named_sinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let sink = SinkSpec::File(path.clone())
            .build(ExistingFile::Refuse)
            .unwrap();
        assert_eq!(sink.name(), format!("file:{}", path.display()));
        let stdout = SinkSpec::Stdout.build(ExistingFile::Refuse).unwrap();
        assert_eq!(stdout.name(), "stdout");
    }
}

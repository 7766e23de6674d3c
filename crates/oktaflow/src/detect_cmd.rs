//! `oktaflow detect`: the detection rules over saved events, one alert per line.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use oktaflow_detect::{DetectError, Detector, RulesConfig, SigmaRules};
use oktaflow_normalize::{Normalizer, Options};
use oktaflow_pipeline::offline::{detect_stream, StreamError};
use oktaflow_pipeline::{DeadLetterError, DeadLetterWriter};

use crate::exit::Exit;

/// `--help` of `oktaflow detect`.
pub const ABOUT: &str = "\
Run the detection rules over saved Okta System Log events and print each alert as one \
JSON line (an ECS alert document, event.kind: alert) on stdout: for back-testing and \
writing rules.

Input: the same as oktaflow normalize (NDJSON, pretty-printed or jq output, \
/api/v1/logs JSON arrays, {\"message\": ...} wrappers, EventBridge envelopes; --input - \
or no --input reads stdin). Events are evaluated in input order (Okta returns them in \
published order); each is normalized first, and the rules see the raw event and its ECS \
document. The eight built-in rules run with their default settings (--no-builtin turns \
them off); --rules adds Sigma rule files or folders (every .yml/.yaml under a folder). \
Alert ids are derived from the rule, the group and the window: the same input gives the \
same alerts with the same ids.

Rejected inputs (not an event, or an event the rules cannot read, e.g. an unparsable \
published) go to the dead-letter output as one JSON line each, and the exit code is 1.";

/// Exit codes and an example of `oktaflow detect`.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  every input was evaluated (with or without alerts)
  1  some inputs were rejected (see the dead-letter output); the others were evaluated
  2  bad usage: unreadable --input, a Sigma rule that does not load, ...
  4  reading the input or writing an output failed while running

Example:
  oktaflow detect --input okta-export.ndjson --rules rules/sigma/okta > alerts.ndjson";

/// Arguments of `oktaflow detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Read events from FILE instead of stdin (`-`: stdin).
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Also run the Sigma rules of this file or folder (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,

    /// Do not run the built-in rules (only the --rules).
    #[arg(long)]
    pub no_builtin: bool,

    /// Write rejected inputs to FILE (created or emptied) instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
}

/// Why `oktaflow detect` stopped.
#[derive(Debug, thiserror::Error)]
pub enum DetectCmdError {
    /// The input could not be opened.
    #[error("cannot open --input {path}: {error}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
    /// The rules could not be loaded.
    #[error(transparent)]
    Rules(DetectError),
    /// The dead-letter file could not be opened.
    #[error(transparent)]
    DeadLetterOpen(DeadLetterError),
    /// Reading the input failed.
    #[error("cannot read {input}: {error}")]
    Read {
        /// The input file, or `stdin`.
        input: String,
        /// The underlying error.
        error: io::Error,
    },
    /// Writing the alerts failed.
    #[error("cannot write stdout: {0}")]
    Write(io::Error),
    /// Writing a dead letter failed.
    #[error(transparent)]
    DeadLetterWrite(DeadLetterError),
}

impl DetectCmdError {
    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            DetectCmdError::Open { .. }
            | DetectCmdError::Rules(_)
            | DetectCmdError::DeadLetterOpen(_) => Exit::Usage,
            DetectCmdError::Read { .. }
            | DetectCmdError::Write(_)
            | DetectCmdError::DeadLetterWrite(_) => Exit::Io,
        }
    }
}

/// Runs `oktaflow detect`; [`Exit::Rejected`] when some inputs were dead-lettered.
pub fn run(args: &DetectArgs) -> Result<Exit, DetectCmdError> {
    let read_at = chrono::Utc::now();
    let config = if args.no_builtin {
        RulesConfig::none()
    } else {
        RulesConfig::default()
    };
    let sigma = SigmaRules::load(&args.rules).map_err(DetectCmdError::Rules)?;
    let mut detector = Detector::with_sigma(config, &sigma).map_err(DetectCmdError::Rules)?;
    let input_path = args.input.as_deref().filter(|p| *p != Path::new("-"));
    let input: Box<dyn Read> =
        match input_path {
            Some(path) => Box::new(File::open(path).and_then(not_a_directory).map_err(
                |error| DetectCmdError::Open {
                    path: path.to_owned(),
                    error,
                },
            )?),
            None => Box::new(io::stdin().lock()),
        };
    let mut dead_letters = match &args.dead_letter {
        Some(path) => DeadLetterWriter::create(path).map_err(DetectCmdError::DeadLetterOpen)?,
        None => DeadLetterWriter::stderr(),
    };
    let mut normalizer = Normalizer::new(Options::default());
    detect_stream(
        &mut detector,
        &mut normalizer,
        input,
        io::stdout().lock(),
        &mut dead_letters,
        read_at,
    )
    .map_err(|error| match error {
        StreamError::Read(error) => DetectCmdError::Read {
            input: input_path.map_or_else(|| "stdin".into(), |p| p.display().to_string()),
            error,
        },
        StreamError::Write(error) => DetectCmdError::Write(error),
        StreamError::DeadLetter(error) => DetectCmdError::DeadLetterWrite(error),
    })?;
    let rejected = dead_letters.count();
    if rejected == 0 {
        return Ok(Exit::Ok);
    }
    if args.dead_letter.is_some() {
        eprintln!(
            "oktaflow: {rejected} input(s) rejected; reasons in {}",
            dead_letters.description()
        );
    }
    Ok(Exit::Rejected)
}

/// A directory opens like a file but fails on the first read: refuse it at once (usage).
fn not_a_directory(file: File) -> io::Result<File> {
    match file.metadata()?.is_dir() {
        true => Err(io::Error::from(io::ErrorKind::IsADirectory)),
        false => Ok(file),
    }
}

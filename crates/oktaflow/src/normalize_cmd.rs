//! `oktaflow normalize`: Okta System Log events from a file or stdin to ECS NDJSON.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use oktaflow_normalize::{GeoIp, Normalizer, Options};
use oktaflow_pipeline::offline::{normalize_stream, StreamError};
use oktaflow_pipeline::{DeadLetterError, DeadLetterWriter};

use crate::cli::NormalizeArgs;
use crate::exit::Exit;

/// Why `oktaflow normalize` stopped.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeCmdError {
    /// A file named on the command line could not be opened or created.
    #[error("cannot {action} {path}: {error}")]
    Open {
        /// "open --input" and the like.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
    /// Two options name the same file (writing one would destroy the other).
    #[error("{first} and {second} name the same file {path}: choose another output")]
    SameFile {
        /// The first option.
        first: &'static str,
        /// The second option.
        second: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A GeoIP database was refused.
    #[error("bad GeoIP database ({paths}): {error}")]
    GeoIp {
        /// The configured database paths.
        paths: String,
        /// What the reader said.
        error: oktaflow_normalize::GeoIpError,
    },
    /// The profile store could not be read.
    #[error("--profiles: {0}")]
    Profiles(#[from] oktaflow_enrich::EnrichError),
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
    /// Writing the output failed.
    #[error("cannot write {output}: {error}")]
    Write {
        /// The output file, or `stdout`.
        output: String,
        /// The underlying error.
        error: io::Error,
    },
    /// Writing a dead letter failed.
    #[error(transparent)]
    DeadLetterWrite(DeadLetterError),
}

impl NormalizeCmdError {
    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            NormalizeCmdError::Open { .. }
            | NormalizeCmdError::SameFile { .. }
            | NormalizeCmdError::GeoIp { .. }
            | NormalizeCmdError::Profiles(_)
            | NormalizeCmdError::DeadLetterOpen(_) => Exit::Usage,
            NormalizeCmdError::Read { .. }
            | NormalizeCmdError::Write { .. }
            | NormalizeCmdError::DeadLetterWrite(_) => Exit::Io,
        }
    }
}

/// The snapshot of the profile store `path` (which must exist: it is never created here).
fn load_profiles(path: &Path) -> Result<oktaflow_normalize::Profiles, NormalizeCmdError> {
    std::fs::metadata(path).map_err(open_error("open --profiles", path))?;
    let store = oktaflow_enrich::ProfileStore::open(path)?;
    Ok(store.snapshot(true, true)?)
}

/// Runs `oktaflow normalize`; returns [`Exit::Rejected`] when some inputs were
/// dead-lettered, [`Exit::Ok`] otherwise.
pub fn run(args: &NormalizeArgs) -> Result<Exit, NormalizeCmdError> {
    check_distinct(args)?;
    // Events are "fetched" when this run reads them: the @timestamp of an event whose
    // `published` is missing or unparsable.
    let read_at = chrono::Utc::now();
    let input_path = args.input.as_deref().filter(|p| *p != Path::new("-"));
    let options = Options {
        include_original: args.include_original,
        geoip: load_geoip(args)?,
        schema: args.schema,
        profiles: match &args.profiles {
            Some(path) => Some(std::sync::Arc::new(load_profiles(path)?)),
            None => None,
        },
        ..Options::default()
    };
    let input_name = describe(input_path, "stdin");
    let output_name = describe(args.output.as_deref(), "stdout");
    let input: Box<dyn Read> = match input_path {
        Some(path) => Box::new(
            File::open(path)
                .and_then(not_a_directory)
                .map_err(open_error("open --input", path))?,
        ),
        None => Box::new(io::stdin().lock()),
    };
    let mut dead_letters = match &args.dead_letter {
        Some(path) => DeadLetterWriter::create(path).map_err(NormalizeCmdError::DeadLetterOpen)?,
        None => DeadLetterWriter::stderr(),
    };
    let output: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(File::create(path).map_err(open_error("create --output", path))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut normalizer = Normalizer::new(options);
    let summary = normalize_stream(&mut normalizer, input, output, &mut dead_letters, read_at)
        .map_err(|error| match error {
            StreamError::Read(error) => NormalizeCmdError::Read {
                input: input_name,
                error,
            },
            StreamError::Write(error) => NormalizeCmdError::Write {
                output: output_name,
                error,
            },
            StreamError::DeadLetter(error) => NormalizeCmdError::DeadLetterWrite(error),
        })?;
    let published_unparsable = summary.published_unparsable;

    // Standard error holds the dead letters (NDJSON) unless they go to a file.
    if published_unparsable > 0 && args.dead_letter.is_some() {
        eprintln!(
            "oktaflow: {published_unparsable} event(s) with a missing or unparsable `published` \
             were written with @timestamp = the time this run started (tag okta_published_unparsable)"
        );
    }
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

fn load_geoip(args: &NormalizeArgs) -> Result<Option<GeoIp>, NormalizeCmdError> {
    if args.geoip_city.is_none() && args.geoip_asn.is_none() {
        return Ok(None);
    }
    let read = |path: &Option<PathBuf>, action| {
        path.as_ref()
            .map(|p| std::fs::read(p).map_err(open_error(action, p)))
            .transpose()
    };
    let city = read(&args.geoip_city, "read --geoip-city")?;
    let asn = read(&args.geoip_asn, "read --geoip-asn")?;
    GeoIp::from_bytes(city, asn)
        .map(Some)
        .map_err(|error| NormalizeCmdError::GeoIp {
            paths: [&args.geoip_city, &args.geoip_asn]
                .into_iter()
                .flatten()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            error,
        })
}

/// A directory opens like a file but fails on the first read: refuse it at once (usage).
fn not_a_directory(file: File) -> io::Result<File> {
    match file.metadata()?.is_dir() {
        true => Err(io::Error::from(io::ErrorKind::IsADirectory)),
        false => Ok(file),
    }
}

/// Refuses an output that is also the input or the other output: creating it would
/// empty the file before it is read.
fn check_distinct(args: &NormalizeArgs) -> Result<(), NormalizeCmdError> {
    // `--input -` is stdin, not a file named `-`.
    let input = args.input.clone().filter(|p| p != Path::new("-"));
    let named = [
        ("--input", &input),
        ("--output", &args.output),
        ("--dead-letter", &args.dead_letter),
    ];
    for (i, (first, a)) in named.iter().enumerate() {
        for (second, b) in &named[i + 1..] {
            if let (Some(a), Some(b)) = (a, b) {
                if let (Ok(ca), Ok(cb)) = (a.canonicalize(), b.canonicalize()) {
                    if ca == cb {
                        return Err(NormalizeCmdError::SameFile {
                            first,
                            second,
                            path: ca,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn describe(path: Option<&Path>, default: &str) -> String {
    path.map_or_else(|| default.to_owned(), |p| p.display().to_string())
}

fn open_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> NormalizeCmdError {
    let path = path.to_owned();
    move |error| NormalizeCmdError::Open {
        action,
        path,
        error,
    }
}

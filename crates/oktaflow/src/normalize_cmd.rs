//! `oktaflow normalize`: Okta System Log events from a file or stdin to ECS NDJSON.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use oktaflow_normalize::{GeoIp, Normalizer, Options};
use oktaflow_pipeline::{DeadLetter, DeadLetterError, DeadLetterWriter};

use crate::cli::NormalizeArgs;
use crate::exit::Exit;
use oktaflow_plumbing::framing::{Record, Records, MAX_RECORD_BYTES};

/// Input read buffer.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// Output is handed to the OS in chunks of about this size.
const WRITE_CHUNK_BYTES: usize = 256 * 1024;

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
            | NormalizeCmdError::DeadLetterOpen(_) => Exit::Usage,
            NormalizeCmdError::Read { .. }
            | NormalizeCmdError::Write { .. }
            | NormalizeCmdError::DeadLetterWrite(_) => Exit::Io,
        }
    }
}

/// Runs `oktaflow normalize`; returns [`Exit::Rejected`] when some inputs were
/// dead-lettered, [`Exit::Ok`] otherwise.
pub fn run(args: &NormalizeArgs) -> Result<Exit, NormalizeCmdError> {
    check_distinct(args)?;
    let options = Options {
        include_original: args.include_original,
        geoip: load_geoip(args)?,
        ..Options::default()
    };
    let input_name = describe(args.input.as_deref(), "stdin");
    let output_name = describe(args.output.as_deref(), "stdout");
    let input: Box<dyn Read> = match &args.input {
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
    let mut output = Output {
        out: output,
        name: output_name,
        buf: Vec::with_capacity(WRITE_CHUNK_BYTES + 64 * 1024),
        closed: false,
    };
    let read_error = |error| NormalizeCmdError::Read {
        input: input_name.clone(),
        error,
    };

    let mut normalizer = Normalizer::new(options);
    let mut records =
        Records::new(BufReader::with_capacity(READ_BUFFER_BYTES, input)).map_err(read_error)?;
    while let Some((number, record)) = records.next_record().map_err(read_error)? {
        let rejection = match record {
            Record::Event(bytes) => match std::str::from_utf8(bytes) {
                Err(e) => Some((
                    format!(
                        "not valid UTF-8 (invalid byte at offset {}); raw is decoded lossily",
                        e.valid_up_to()
                    ),
                    bytes,
                )),
                Ok(_) => match normalizer.normalize_into(bytes, &mut output.buf) {
                    Ok(_) => {
                        output.buf.push(b'\n');
                        None
                    }
                    Err(e) => Some((e.to_string(), bytes)),
                },
            },
            Record::TooLong { prefix, len } => Some((
                format!(
                    "record of {len} bytes exceeds the {MAX_RECORD_BYTES}-byte limit; \
                     raw holds its first {} bytes",
                    prefix.len()
                ),
                prefix,
            )),
            Record::Malformed { raw, reason } => Some((reason.to_owned(), raw)),
        };
        if let Some((error, raw)) = rejection {
            dead_letters
                .write(&DeadLetter {
                    line: Some(number),
                    error: &error,
                    raw: &String::from_utf8_lossy(raw),
                    ..DeadLetter::default()
                })
                .map_err(NormalizeCmdError::DeadLetterWrite)?;
        }
        if output.buf.len() >= WRITE_CHUNK_BYTES {
            output.drain()?;
            if output.closed {
                break;
            }
        }
    }
    output.drain()?;
    output.flush()?;

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

/// The output with its pending bytes. A closed pipe (`oktaflow normalize | head`)
/// ends the run quietly, like other Unix filters.
struct Output {
    out: Box<dyn Write>,
    name: String,
    buf: Vec<u8>,
    closed: bool,
}

impl Output {
    fn drain(&mut self) -> Result<(), NormalizeCmdError> {
        if !self.closed {
            let written = self.out.write_all(&self.buf);
            self.check(written)?;
        }
        self.buf.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), NormalizeCmdError> {
        if !self.closed {
            let flushed = self.out.flush();
            self.check(flushed)?;
        }
        Ok(())
    }

    fn check(&mut self, result: io::Result<()>) -> Result<(), NormalizeCmdError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(error) => Err(NormalizeCmdError::Write {
                output: self.name.clone(),
                error,
            }),
        }
    }
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
    let named = [
        ("--input", &args.input),
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

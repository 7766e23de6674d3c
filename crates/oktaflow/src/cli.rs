//! The command line: one `clap` args struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

/// Pull the Okta System Log, normalize it to Elastic Common Schema (ECS), deliver it
/// exactly once.
#[derive(Debug, Parser)]
#[command(name = "oktaflow", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Normalize Okta System Log events from a file or stdin to ECS NDJSON.
    #[command(long_about = NORMALIZE_ABOUT, after_help = NORMALIZE_AFTER_HELP)]
    Normalize(NormalizeArgs),
}

const NORMALIZE_ABOUT: &str = "\
Normalize Okta System Log events from a file or stdin to ECS NDJSON.

Input: either NDJSON, one event per line (blank lines are skipped), or a JSON array \
of events such as a saved page of GET /api/v1/logs (several arrays one after the \
other are read in turn). The layout is detected from the first non-whitespace byte: \
'[' means arrays. Each event may be a raw Okta LogEvent object, a wrapper \
{\"message\": \"<LogEvent as a JSON string>\", ...}, or an AWS EventBridge envelope \
(\"detail-type\": \"SystemLog\", the LogEvent under \"detail\").

Output: one ECS JSON document per line, in input order. Input and output are \
streamed: memory stays flat however large the input.

Rejected inputs: an event that cannot be normalized (not JSON, not valid UTF-8, \
missing uuid/published/eventType, ...) is not written to the output; it goes to the \
dead-letter output as one JSON line {\"line\": N, \"error\": \"...\", \"raw\": \"...\"}, \
where N is the line number (NDJSON) or the element number counting from 1 (arrays), \
and the exit code is 1.";

const NORMALIZE_AFTER_HELP: &str = "\
Exit codes:
  0  every input was normalized
  1  some inputs were rejected (see the dead-letter output); the others were written
  2  bad usage: unreadable --input, unwritable --output, bad GeoIP database, ...
  4  reading the input or writing an output failed while running

Example:
  oktaflow normalize --input fixtures/okta-sample.ndjson --output okta-ecs.ndjson";

/// Arguments of `oktaflow normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Read events from FILE instead of stdin.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Write ECS documents to FILE (created or emptied) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Write rejected inputs to FILE (created or emptied) instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,

    /// Add event.original: the raw LogEvent JSON text.
    #[arg(long)]
    pub include_original: bool,

    /// MaxMind GeoLite2-City (or DB-IP City) database: adds source.geo.country_iso_code,
    /// continent_name, timezone and fills geo fields Okta left empty.
    #[arg(long, value_name = "FILE.mmdb")]
    pub geoip_city: Option<PathBuf>,

    /// MaxMind GeoLite2-ASN database: fills source.as.* when Okta left it empty.
    #[arg(long, value_name = "FILE.mmdb")]
    pub geoip_asn: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn normalize_flags_parse() {
        let cli = Cli::try_parse_from([
            "oktaflow",
            "normalize",
            "--input",
            "in.ndjson",
            "--dead-letter",
            "dead.ndjson",
            "--include-original",
            "--geoip-city",
            "city.mmdb",
        ])
        .unwrap();
        let Command::Normalize(args) = cli.command;
        assert_eq!(args.input, Some(PathBuf::from("in.ndjson")));
        assert_eq!(args.output, None);
        assert_eq!(args.dead_letter, Some(PathBuf::from("dead.ndjson")));
        assert!(args.include_original);
        assert_eq!(args.geoip_city, Some(PathBuf::from("city.mmdb")));
        assert_eq!(args.geoip_asn, None);
    }
}

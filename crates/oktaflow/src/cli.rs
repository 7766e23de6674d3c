//! The command line: one `clap` args struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;
use crate::logging::LogFormat;

/// Pull the Okta System Log, normalize it to Elastic Common Schema (ECS), deliver it
/// exactly once.
#[derive(Debug, Parser)]
#[command(name = "oktaflow", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Log lines on stderr: text (human-readable) or json (one JSON object per line).
    /// Levels come from RUST_LOG (default info).
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        default_value_t = LogFormat::Text,
        env = "OKTAFLOW_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Normalize Okta System Log events from a file or stdin to ECS NDJSON.
    #[command(long_about = NORMALIZE_ABOUT, after_help = NORMALIZE_AFTER_HELP)]
    Normalize(NormalizeArgs),
    /// Pull an Okta org's System Log, normalize it to ECS and deliver it exactly once.
    #[command(long_about = RUN_ABOUT, after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Try oktaflow on a simulated Okta org: backfill, follow live events, summary.
    #[cfg(feature = "sim")]
    #[command(long_about = DEMO_ABOUT)]
    Demo(DemoArgs),
    /// Run the Okta System Log API simulator in the foreground (until Ctrl-C).
    #[cfg(feature = "sim")]
    Sim(SimArgs),
    /// Check the configuration, each Okta org and each sink, without writing anything.
    #[command(long_about = CHECK_ABOUT, after_help = CHECK_AFTER_HELP)]
    Check(CheckArgs),
    /// Print a shell completion script (e.g. `oktaflow completions bash > /etc/bash_completion.d/oktaflow`).
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `oktaflow man > /usr/local/share/man/man1/oktaflow.1`.
    Man(ManArgs),
    /// Prepare a store: Elasticsearch/OpenSearch index template, ClickHouse table.
    Setup(crate::setup_cmd::SetupArgs),
    /// Run the detection rules over saved events; print one alert per line (NDJSON).
    #[command(long_about = crate::detect_cmd::ABOUT, after_help = crate::detect_cmd::AFTER_HELP)]
    Detect(crate::detect_cmd::DetectArgs),
    /// Work with Sigma rule files: `oktaflow rules test DIR` runs their test cases.
    Rules(crate::rules_cmd::RulesArgs),
}

const NORMALIZE_ABOUT: &str = "\
Normalize Okta System Log events from a file or stdin to ECS NDJSON.

Input: any stream of JSON values: NDJSON (one event per line), objects one after \
the other, compact or pretty-printed (jq output, a pretty-printed event), and JSON \
arrays of events such as a saved page of GET /api/v1/logs (each element is an \
event), in any mix. --input - (or no --input) reads stdin. Each event may be a raw \
Okta LogEvent object, a wrapper \
{\"message\": \"<LogEvent as a JSON string>\", ...}, or an AWS EventBridge envelope \
(\"detail-type\": \"SystemLog\", the LogEvent under \"detail\").

Output: one ECS JSON document per line, in input order. Input and output are \
streamed: memory stays flat however large the input.

Rejected inputs: an event that cannot be normalized (not JSON, not an object, not \
valid UTF-8, missing uuid/eventType, ...) and input that cannot be an event (a value \
cut off before its end, a stray comma) is not written to the output; it goes to the \
dead-letter output as one JSON line {\"line\": N, \"error\": \"...\", \"raw\": \"...\"}, \
where N is the line it starts on, and the exit code is 1. Reading goes on at the next \
value: a truncated line costs that line only. An event whose published time is \
missing or unparsable is kept: its @timestamp is the time the run started, with \
error.message and the tag okta_published_unparsable (counted on stderr with \
--dead-letter).";

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
    /// Read events from FILE instead of stdin (`-`: stdin).
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

    /// Output schema: `ecs` (oktaflow's ECS layout), `elastic` (the documents of
    /// Elastic's Okta integration, for `logs-okta.system-*`) or `ocsf` (OCSF 1.8.0
    /// events); see docs/fields.md.
    #[arg(long, value_name = "SCHEMA", default_value_t = oktaflow_normalize::Schema::Ecs)]
    pub schema: oktaflow_normalize::Schema,

    /// Join the user and device profiles of this profile store (a source's
    /// `profiles-<source>.redb` in the state directory) onto every event; see
    /// docs/enrichment.md.
    #[arg(long, value_name = "FILE.redb")]
    pub profiles: Option<PathBuf>,
}

const RUN_ABOUT: &str = "\
Pull an Okta org's System Log (GET /api/v1/logs), normalize each event to ECS and \
deliver it exactly once to every sink.

Settings come from the config file (--config), then OKTAFLOW_* environment variables, \
then these flags (see docs/configuration.md); a setting has one name everywhere: the key \
interval is OKTAFLOW_INTERVAL and --interval. The API token is read from OKTA_API_TOKEN \
(or api_token / api_token_file in the config; an OAuth service app is configured in \
[source.oauth]); it is never printed.

Exactly once: after each page the checkpoint in --state-dir records the Okta cursor and \
each sink's position (the file sink's committed byte offset); on start every sink is \
recovered to it, so a crash or kill -9 at any moment neither loses nor duplicates an event. \
Events that cannot be normalized go to STATE_DIR/dead-letter.ndjson with the reason. \
SIGINT/SIGTERM stop cleanly at a page boundary (a second signal stops at once).";

const RUN_AFTER_HELP: &str = "\
Exit codes:
  0  finished (--once) or stopped cleanly on SIGINT/SIGTERM
  2  bad usage, configuration or state directory: nothing was done
  3  halted on an Okta error that retrying cannot fix (400, 401, 403, 404); the last
     checkpoint is intact, fix the cause and run again
  4  a sink, the dead-letter file or the checkpoint could not be written

Examples:
  OKTA_API_TOKEN=00abc... oktaflow run --domain acme.okta.com --sink file:okta.ndjson
  oktaflow run --config /etc/oktaflow/oktaflow.toml --once";

#[cfg(feature = "sim")]
const DEMO_ABOUT: &str = "\
Try oktaflow without an Okta org: starts the Okta API simulator in-process on a free \
loopback port (N events over the last 24 hours, live events, a few late ones), runs the \
real pipeline against it into DIR (events.ndjson plus the state directory), shows a \
progress bar while backfilling, follows live events for --follow, then prints a summary \
by event.category. Re-running it empties DIR (it refuses a DIR it did not create).";

/// The source and sink flags shared by `oktaflow run` and `oktaflow check`; each overrides the
/// config file and the `OKTAFLOW_*` environment. Each is named like its setting in the file
/// (`--interval`: `interval`, `OKTAFLOW_INTERVAL`).
#[derive(Debug, Args)]
pub struct SourceFlags {
    /// Read settings from this TOML file (see oktaflow.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The Okta org's domain, e.g. acme.okta.com (https is used) [env: OKTAFLOW_DOMAIN].
    #[arg(long, value_name = "DOMAIN", conflicts_with = "okta_url")]
    pub domain: Option<String>,

    /// The org's base URL instead of a domain (plain http only for a loopback simulator)
    /// [env: OKTAFLOW_OKTA_URL].
    #[arg(long, value_name = "URL")]
    pub okta_url: Option<String>,

    /// Where the checkpoint and the dead-letter file live [default: oktaflow-state]
    /// [env: OKTAFLOW_STATE_DIR].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Where events go: file:PATH (exactly once), stdout, elasticsearch:URL, opensearch:URL,
    /// clickhouse:URL, http:URL or splunk:URL (options as ?key=value, see docs/sinks.md);
    /// repeat for several sinks [default: stdout] [env: OKTAFLOW_SINKS, comma-separated].
    #[arg(long = "sink", value_name = "SPEC")]
    pub sinks: Vec<String>,

    /// Where a first run starts: an ISO 8601 time or a duration back from now (7d, 12h)
    /// [default: 24h] [env: OKTAFLOW_START_FROM]. Ignored once a checkpoint exists.
    #[arg(long, value_name = "T")]
    pub start_from: Option<String>,

    /// Wait between polls once caught up, 10s..1d [default: 60s] [env: OKTAFLOW_INTERVAL].
    #[arg(long, value_name = "DURATION", alias = "poll-interval")]
    pub interval: Option<String>,

    /// Fetch a long backlog in K parallel time slices (delivered in order), 1..=16
    /// [default: 1] [env: OKTAFLOW_BACKFILL_CONCURRENCY].
    #[arg(long, value_name = "K")]
    pub backfill_concurrency: Option<usize>,
}

impl SourceFlags {
    /// The flags as configuration overrides (flags > environment > file > defaults).
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides {
            domain: self.domain.clone(),
            okta_url: self.okta_url.clone(),
            state_dir: self.state_dir.clone(),
            sinks: self.sinks.clone(),
            start_from: self.start_from.clone(),
            interval: self.interval.clone(),
            backfill_concurrency: self.backfill_concurrency,
        }
    }
}

/// Arguments of `oktaflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Source and sink settings.
    #[command(flatten)]
    pub source: SourceFlags,

    /// Stop once caught up (backfills, cron).
    #[arg(long)]
    pub once: bool,

    /// Serve /metrics, /health and /ready on this address, e.g. 127.0.0.1:9464 (overrides
    /// [metrics] listen and OKTAFLOW_METRICS_LISTEN; off when none is set).
    #[arg(long, value_name = "ADDR", alias = "metrics-addr")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Arguments of `oktaflow demo`.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Events in the simulated org's last 24 hours.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub events: usize,

    /// Output directory (created; a previous demo's is emptied first).
    #[arg(long, value_name = "DIR", default_value = "oktaflow-demo")]
    pub dir: PathBuf,

    /// How long to follow live events after catching up, e.g. 5s, 1m.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub follow: String,

    /// Seed of the simulated org (same seed, same backlog).
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,

    /// Leave out the attack scenarios (by default the simulated org holds attacks that
    /// trigger each built-in detection rule, whose alerts go to DIR/alerts.ndjson).
    #[arg(long)]
    pub no_attacks: bool,
}

/// Arguments of `oktaflow sim`.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Loopback port to listen on (0 = any free port).
    #[arg(long, value_name = "P", default_value_t = 8080)]
    pub port: u16,

    /// Events in the backlog (published over the last 24 hours).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub events: usize,

    /// Seed of every random choice (same seed, same events).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Requests per minute allowed on /api/v1/logs (X-Rate-Limit-* headers, 429 when spent)
    /// [default: unlimited].
    #[arg(long, value_name = "R")]
    pub rate_limit: Option<u32>,

    /// Share of requests answered with a fault (500, 503, dropped connection, slow or
    /// truncated response), 0..1.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Share of events that become visible late with an earlier published time, 0..1.
    #[arg(long, value_name = "X", default_value_t = 0.01)]
    pub late_fraction: f64,

    /// New events per second while running.
    #[arg(long, value_name = "EPS", default_value_t = 0.0)]
    pub live_rate: f64,

    /// The accepted API token (SSWS) [default: a random one, printed].
    #[arg(long, value_name = "T")]
    pub token: Option<String>,

    /// Inject attack scenarios into the backlog: events that trigger each built-in
    /// detection rule once, plus near misses that must not (docs/detections.md).
    #[arg(long)]
    pub attacks: bool,
}

const CHECK_ABOUT: &str = "\
Check a configuration before running it, without writing anything (no state directory \
is created, no event is written):

  config      every unknown key and wrongly typed value of the file, with file:line:column;
              then every bad value merged from file, OKTAFLOW_* environment and flags, like
              `run` (each names its key and where the value came from)
  state_dir   exists and is writable, or can be created
  source      for each source: resolve the org's host, connect, and send ONE request
              GET /api/v1/logs?limit=1 with the configured credentials (proves the domain,
              the token and its permission to read the System Log)
  sink        for each sink: file sinks' directory is writable; stdout is always OK

Prints a table (subject, check, OK/FAIL, detail) on stdout.";

const CHECK_AFTER_HELP: &str = "\
Exit codes:
  0  every check passed
  1  at least one check failed (see the table)
  2  the configuration is invalid (only the config rows are shown)
  4  the checks could not run (e.g. stdout closed)

Example:
  oktaflow check --config /etc/oktaflow/oktaflow.toml";

/// Arguments of `oktaflow check`: the source and sink flags of `oktaflow run`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Source and sink settings, as for `oktaflow run`.
    #[command(flatten)]
    pub source: SourceFlags,
}

/// Arguments of `oktaflow completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `oktaflow man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (oktaflow.1, oktaflow-run.1, ...) into DIR instead of
    /// printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
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
        let Command::Normalize(args) = cli.command else {
            panic!("expected the normalize subcommand");
        };
        assert_eq!(args.input, Some(PathBuf::from("in.ndjson")));
        assert_eq!(args.output, None);
        assert_eq!(args.dead_letter, Some(PathBuf::from("dead.ndjson")));
        assert!(args.include_original);
        assert_eq!(args.geoip_city, Some(PathBuf::from("city.mmdb")));
        assert_eq!(args.geoip_asn, None);
    }

    #[test]
    fn old_flag_names_are_hidden_aliases() {
        let cli = Cli::try_parse_from([
            "oktaflow",
            "run",
            "--poll-interval",
            "2m",
            "--metrics-addr",
            "127.0.0.1:9464",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected the run subcommand");
        };
        assert_eq!(args.source.interval.as_deref(), Some("2m"));
        assert_eq!(args.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        let help = Cli::command()
            .find_subcommand_mut("run")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        assert!(
            help.contains("--interval <DURATION>") && !help.contains("poll-interval"),
            "{help}"
        );
    }
}

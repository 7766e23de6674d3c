//! The configuration: a TOML file, `OKTAFLOW_*` environment variables and command-line flags,
//! merged (flags > environment > file > defaults) and validated into a [`RunConfig`].
//!
//! **One name per setting**: the file key `interval` (under `[source]`), the variable
//! `OKTAFLOW_INTERVAL` and the flag `--interval` (see [`env_var`]); `tls.ca_file` is
//! `OKTAFLOW_TLS_CA_FILE`. The one exception is `OKTA_API_TOKEN`, the name Okta's own tools use.
//!
//! **How the layers are merged**: with [`figment`]. The file is first read into a typed serde
//! schema with `deny_unknown_fields` by the `toml` crate, whose errors carry the span
//! (`file:line:col`, which figment does not track). Each layer then becomes a figment
//! provider: the file's table, one provider per environment variable and one per flag, so
//! figment's per-value metadata names exactly where each merged value came from. Each setting
//! is extracted on its own (typed; environment text is converted "lossily", `"0.5"` → `0.5`)
//! and checked, and every problem is collected, so `oktaflow check` lists them all.
//! Why figment rather than clap's `env =`: clap stops at the first bad value, its message
//! does not say that a value came from a variable, and it cannot layer the file in between.
//!
//! Every error is one line naming the key and where its value came from: `file [source] key`,
//! the variable or the flag (or `defaults`). Token and key files are read here; their contents
//! are wrapped in [`Secret`] as soon as they are extracted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions, TlsConfig};
use oktaflow_pipeline::{PushOptions, PushTable};
use oktaflow_plumbing::{Quantity, SettingError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Shortest allowed poll interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Longest allowed poll interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
/// Largest backfill concurrency.
pub const MAX_BACKFILL_CONCURRENCY: usize = 16;
/// Default state directory (relative to the working directory).
pub const DEFAULT_STATE_DIR: &str = "oktaflow-state";
/// Default sink.
pub const DEFAULT_SINK: &str = "stdout";
/// Default source name (names the checkpoint file).
pub const DEFAULT_SOURCE_NAME: &str = "okta";
/// How far back the first run starts by default.
pub const DEFAULT_START_BACK: Duration = Duration::from_secs(86_400);
/// Default silence alert: no event from a source for this long is an error.
pub const DEFAULT_SILENCE_ALERT: Duration = Duration::from_secs(86_400);
// The other defaults (poll interval 60 s, backfill concurrency 1, page size, rate-limit share,
// request timeout) are the fetch crate's: `SourceOptions::default()` and `ClientConfig::new`.

/// The settings an environment variable can set (its name is [`env_var`] of the key), separated
/// by white space; the first four are top-level, the others belong to the single `[source]`.
const ENV_KEYS: &str = "state_dir sinks metrics.listen output_retry_limit \
    domain okta_url api_token api_token_file oauth.client_id oauth.private_key_file oauth.key_id \
    start_from interval page_size rate_limit_share request_timeout max_response_body \
    backfill_concurrency \
    proxy_url tls.ca_file tls.cert_file tls.key_file tls.verify_certificate silence_alert schema";
const TOP_KEYS: usize = 4;

/// Earlier names of variables, still read when the new one is not set.
const OLD_ENV_NAMES: &[(&str, &str)] = &[
    ("oauth.client_id", "OKTAFLOW_CLIENT_ID"),
    ("oauth.private_key_file", "OKTAFLOW_PRIVATE_KEY_FILE"),
    ("oauth.key_id", "OKTAFLOW_KEY_ID"),
];

/// The environment variable of a setting: `OKTAFLOW_` and the key in capitals, `.` → `_`
/// (`tls.ca_file` → `OKTAFLOW_TLS_CA_FILE`); `api_token` is `OKTA_API_TOKEN`.
pub fn env_var(key: &str) -> String {
    match key {
        "api_token" => "OKTA_API_TOKEN".to_string(),
        _ => format!("OKTAFLOW_{}", key.replace('.', "_").to_ascii_uppercase()),
    }
}

/// Values given on the command line (already split by clap, not yet validated); each field is
/// named like its setting, and its flag is `--` and the name with `-` for `_` (`--sink` for
/// `sinks`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--domain`.
    pub domain: Option<String>,
    /// `--okta-url`.
    pub okta_url: Option<String>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// `--sink` (repeatable); non-empty replaces the configured sinks.
    pub sinks: Vec<String>,
    /// `--start-from`.
    pub start_from: Option<String>,
    /// `--interval`.
    pub interval: Option<String>,
    /// `--backfill-concurrency`.
    pub backfill_concurrency: Option<usize>,
}

impl Overrides {
    /// (flag, key, value) of each flag given.
    fn given(&self) -> Vec<(String, String, Value)> {
        let all = Value::serialize(self).ok().and_then(Value::into_dict);
        let given = all.into_iter().flatten().filter(|(_, value)| match value {
            Value::Empty(..) => false,
            Value::Array(_, list) => !list.is_empty(),
            _ => true,
        });
        let flag = |key: &str| match key {
            "sinks" => "--sink".to_string(),
            _ => format!("--{}", key.replace('_', "-")),
        };
        given.map(|(key, value)| (flag(&key), key, value)).collect()
    }
}

/// A sink to deliver to (`file:PATH`, `stdout`, `elasticsearch:URL`, ...; see
/// [`oktaflow_sink::parse_sink_spec`]).
pub use oktaflow_sink::SinkSpec;

/// One Okta org to read.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name; names the checkpoint file.
    pub name: String,
    /// How to reach and authenticate to the org.
    pub client: ClientConfig,
    /// Where the first run starts (ignored when a checkpoint exists).
    pub start_from: DateTime<Utc>,
    /// Poll interval and backfill concurrency.
    pub options: SourceOptions,
    /// No event for this long raises the silence alert (`None`: `silence_alert = "off"`).
    pub silence_alert: Option<Duration>,
    /// The layout of the documents written for this source (`schema = "ecs" | "elastic" | "ocsf"`).
    pub schema: oktaflow_normalize::Schema,
    /// `[source.enrichment]`: user and device profiles joined onto events (`None`: off).
    pub enrichment: Option<oktaflow_pipeline::EnrichOptions>,
    /// `kind = "eventbridge"`: the push receiver and its options (`None`: the source polls).
    pub push: Option<PushSource>,
    /// `kind = "sqs"`: the queue the events arrive in and its options.
    pub sqs: Option<SqsSource>,
}

/// An SQS push source's settings (`kind = "sqs"`, table `sqs`).
#[derive(Debug, Clone)]
pub struct SqsSource {
    /// The queue, region, credentials and polling settings.
    pub config: oktaflow_sqs::SqsConfig,
    /// De-duplication window and batch linger.
    pub options: oktaflow_pipeline::PushOptions,
    /// True when the source also has API credentials; without them `check` does not probe
    /// the org.
    pub api_credentials: bool,
    /// Where the credentials came from (for `check`; never the secret).
    pub credentials_from: String,
}

/// A push source's settings (`kind = "eventbridge"`, table `eventbridge`).
#[derive(Debug, Clone)]
pub struct PushSource {
    /// The receiver: address, TLS files, credential, limits.
    pub receiver: oktaflow_push::ReceiverConfig,
    /// De-duplication window and batch linger.
    pub options: oktaflow_pipeline::PushOptions,
    /// True when the source also has API credentials (`api_token`, `api_token_file` or
    /// `oauth`); without them `check` does not probe the org.
    pub api_credentials: bool,
}

/// The validated configuration of `oktaflow run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where checkpoints live.
    pub state_dir: PathBuf,
    /// Where events go.
    pub sinks: Vec<SinkSpec>,
    /// The `schema` of each of [`sinks`](Self::sinks), in the same order (`None`: the
    /// source's schema).
    pub sink_schemas: Vec<Option<oktaflow_normalize::Schema>>,
    /// The orgs to read (one for now; `[[sources]]` may list several).
    pub sources: Vec<SourceConfig>,
    /// `[metrics] listen`: where `/metrics`, `/health` and `/ready` are served (off if unset).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `output_retry_limit`: `Some(None)` when `"off"`; `None` when not set (then
    /// [`oktaflow_pipeline::ONCE_OUTPUT_RETRY_LIMIT`] with `--once`, off otherwise).
    pub output_retry_limit: Option<Option<Duration>>,
    /// `[detect]`: the detect stage's rules and where alerts go (`None`: `enabled = false`).
    pub detect: Option<oktaflow_pipeline::DetectConfig>,
}

/// A configuration problem; `Display` is one line per problem naming the key and where it
/// came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (mentions the key).
        message: String,
    },
    /// A value is missing or invalid.
    #[error("{key} (from {origin}): {reason}")]
    Invalid {
        /// The key, e.g. `source.interval`.
        key: String,
        /// Where the value came from: a file, an environment variable, a flag, or `defaults`.
        origin: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Several problems (at least two), each one line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// Each single problem.
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(list) => list.iter().collect(),
            single => vec![single],
        }
    }
}

/// Reads the config file (if any) and the process environment, applies `overrides`, validates.
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<RunConfig, ConfigError> {
    let text = match path {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        ),
        None => None,
    };
    resolve(
        path.zip(text.as_deref()),
        &|name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()),
        overrides,
        Utc::now(),
    )
}

/// [`load`] with the file text, environment lookup and clock given (for tests and `check`).
/// Every problem found is reported ([`ConfigError::Several`] when more than one).
pub fn resolve(
    file: Option<(&Path, &str)>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
    now: DateTime<Utc>,
) -> Result<RunConfig, ConfigError> {
    let (raw, path) = match file {
        Some((path, text)) => (parse_file(path, text)?, path.display().to_string()),
        None => (FileSchema::default(), "defaults".to_string()),
    };
    let mut errors = Vec::new();
    let sections = match (raw.source.clone(), raw.sources.clone()) {
        (Some(_), Some(_)) => Err("use either [source] or [[sources]], not both"),
        (None, Some(list)) if list.is_empty() => Err("the list is empty; add a [[sources]] entry"),
        (None, Some(list)) => Ok(list
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("sources[{i}]"), s))
            .collect()),
        (source, None) => Ok(vec![("source".to_string(), source.unwrap_or_default())]),
    };
    let sections: Vec<(String, SourceSchema)> = sections.unwrap_or_else(|reason| {
        errors.push(invalid("sources", &path, reason));
        Vec::new()
    });
    let (top_layers, source_layers) = command_line_layers(env, overrides);
    if sections.len() > 1 {
        if let Some(layer) = source_layers.first() {
            let name = layer.0.name.to_string();
            errors.push(invalid(
                &name,
                &name,
                "applies to a single source; with several [[sources]] set it in each entry",
            ));
        }
    }

    let mut top = Figment::from(Layer::file(&path, None, Value::serialize(&raw)));
    top = top_layers.into_iter().fold(top, Figment::merge);
    let mut view = View {
        fig: top,
        section: None,
        errors: &mut errors,
        env,
    };
    let state_dir = view
        .get::<PathBuf>("state_dir")
        .map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), |v| v.value);
    let (sinks, sinks_origin) = match view.get::<Vec<SinkEntry>>("sinks") {
        Some(list) => (parse_sinks(list.value, "sinks", &list.origin), list.origin),
        None => (
            parse_sinks(
                vec![SinkEntry::Spec(DEFAULT_SINK.into())],
                "sinks",
                "defaults",
            ),
            "defaults".to_string(),
        ),
    };
    let (sinks, sink_schemas): (Option<Vec<SinkSpec>>, Vec<_>) =
        match sinks.map_err(|e| view.errors.push(e)) {
            Ok(list) => {
                let (sinks, schemas) = list.into_iter().unzip();
                (Some(sinks), schemas)
            }
            Err(()) => (None, Vec::new()),
        };
    // A sink's own schema that its store cannot hold: one line per sink, whatever the
    // sources.
    for (sink, schema) in sinks.iter().flatten().zip(&sink_schemas) {
        if let Some(reason) = schema.and_then(|schema| schema_unfit_for_sink(schema, sink)) {
            view.errors.push(invalid("sinks", &sinks_origin, &reason));
        }
    }
    let metrics_listen = view.get::<String>("metrics.listen").and_then(|v| {
        v.value
            .trim()
            .parse()
            .map_err(|_| {
                view.bad(
                    "metrics.listen",
                    &v.origin,
                    format!(
                        "`{}` is not an address; use IP:PORT, e.g. \"127.0.0.1:9464\"",
                        v.value
                    ),
                )
            })
            .ok()
    });

    let retry = view.get::<Quantity>("output_retry_limit");
    let output_retry_limit = match retry.map(|t| t.value.into_text()) {
        Some(text) if text.trim().eq_ignore_ascii_case("off") => Some(None),
        Some(_) => view.duration("output_retry_limit").map(|(l, _)| Some(l)),
        None => None,
    };
    let detect = parse_detect(raw.detect.clone().unwrap_or_default(), &path)
        .map_err(|e| view.errors.push(e))
        .ok()
        .flatten();
    let single = sections.len() == 1;
    let mut sources = Vec::with_capacity(sections.len());
    let mut names = HashSet::new();
    for (section, schema) in sections {
        let file_layer = Layer::file(&path, Some(&section), Value::serialize(&schema));
        let mut fig = Figment::from(file_layer);
        if single {
            fig = source_layers.iter().cloned().fold(fig, Figment::merge);
        }
        let mut view = View {
            fig,
            section: Some(&section),
            errors: &mut errors,
            env,
        };
        let config = build_source(&mut view, now);
        // The source's schema goes to every sink without a schema of its own: one line per
        // sink that cannot hold it.
        for (sink, _) in sinks
            .iter()
            .flatten()
            .zip(&sink_schemas)
            .filter(|(_, schema)| schema.is_none())
        {
            if let Some(reason) = schema_unfit_for_sink(config.schema, sink) {
                let origin = view.origin("schema");
                view.bad("schema", &origin, reason);
            }
        }
        if !names.insert(config.name.clone()) {
            let reason = format!(
                "duplicate source name `{}`; give each source a unique name",
                config.name
            );
            errors.push(invalid(&format!("{}.name", config.name), &path, &reason));
        }
        sources.push(config);
    }
    match (errors.len(), state_dir, sinks) {
        (0, state_dir, Some(sinks)) => Ok(RunConfig {
            state_dir,
            sinks,
            sink_schemas,
            sources,
            metrics_listen,
            output_retry_limit,
            detect,
        }),
        (1, _, _) => Err(errors.remove(0)),
        _ => Err(ConfigError::Several(errors)),
    }
}

/// Why documents of `schema` cannot go to `sink`, if they cannot (one line naming the
/// sink): OCSF events have `time` (epoch milliseconds), not the `@timestamp` that
/// Elasticsearch/OpenSearch data streams and the ClickHouse table are keyed on.
fn schema_unfit_for_sink(schema: oktaflow_normalize::Schema, sink: &SinkSpec) -> Option<String> {
    if schema != oktaflow_normalize::Schema::Ocsf {
        return None;
    }
    let kind = match sink {
        SinkSpec::Elasticsearch(_) => "elasticsearch",
        SinkSpec::OpenSearch(_) => "opensearch",
        SinkSpec::ClickHouse(_) => "clickhouse",
        _ => return None,
    };
    Some(format!(
        "schema \"ocsf\" cannot be written to the {kind} sink {sink} (its index or table is \
         keyed on ECS `@timestamp`); give that sink schema \"ecs\" or \"elastic\" (spec \
         option ?schema=ecs, or schema = \"ecs\" in its table), or write OCSF to a file, \
         stdout, http or splunk sink"
    ))
}

/// Takes the `schema` option out of a sink spec (`file:okta.ndjson?schema=ocsf`,
/// `stdout?schema=ocsf`, `elasticsearch:URL?index=x&schema=elastic`): the sink crate knows
/// no schema, the pipeline writes each sink its documents. Returns the spec without it and
/// the name given (the last one, when repeated).
pub fn split_sink_schema(spec: &str) -> (String, Option<String>) {
    let Some((head, query)) = spec.split_once('?') else {
        return (spec.to_string(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|option| match option.strip_prefix("schema=") {
            Some(name) => {
                schema = Some(name.to_string());
                false
            }
            None => true,
        })
        .collect();
    if schema.is_none() {
        return (spec.to_string(), None);
    }
    let rest = rest.join("&");
    match rest.is_empty() {
        true => (head.to_string(), schema),
        false => (format!("{head}?{rest}"), schema),
    }
}

/// A sink's `schema` name, read: one line naming the sink when unknown.
fn sink_schema(
    sink: &SinkSpec,
    name: Option<String>,
) -> Result<Option<oktaflow_normalize::Schema>, String> {
    name.map(|name| {
        name.parse()
            .map_err(|e: oktaflow_normalize::SchemaError| format!("sink {sink}: schema: {e}"))
    })
    .transpose()
}

fn invalid(key: &str, origin: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The file's schema (checked by the `toml` crate, which knows each value's line and column)

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FileSchema {
    state_dir: Option<PathBuf>,
    sinks: Option<Vec<SinkEntry>>,
    #[serde(skip_serializing)]
    source: Option<SourceSchema>,
    #[serde(skip_serializing)]
    sources: Option<Vec<SourceSchema>>,
    metrics: Option<MetricsSchema>,
    output_retry_limit: Option<Quantity>,
    /// `[detect]`: read by [`parse_detect`] (its rule tables are the detect crate's).
    #[serde(skip_serializing)]
    detect: Option<toml::Table>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct MetricsSchema {
    listen: Option<String>,
}

/// `[source]` or one `[[sources]]` entry: every key a source has.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SourceSchema {
    name: Option<String>,
    domain: Option<String>,
    okta_url: Option<String>,
    api_token: Option<String>,
    api_token_file: Option<PathBuf>,
    oauth: Option<OAuthSchema>,
    start_from: Option<String>,
    interval: Option<Quantity>,
    page_size: Option<u32>,
    rate_limit_share: Option<f64>,
    request_timeout: Option<Quantity>,
    /// A size: a number of bytes or text such as `64MiB` (same shape as a duration).
    max_response_body: Option<Quantity>,
    backfill_concurrency: Option<usize>,
    proxy_url: Option<String>,
    tls: Option<TlsSchema>,
    silence_alert: Option<Quantity>,
    schema: Option<String>,
    enrichment: Option<EnrichmentSchema>,
    /// `api` (the default: poll the System Log API) or `eventbridge` (push).
    kind: Option<String>,
    eventbridge: Option<PushTable<oktaflow_push::ReceiverSettings>>,
    sqs: Option<PushTable<oktaflow_sqs::SqsSettings>>,
}

/// `[source.enrichment]`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EnrichmentSchema {
    users: Option<bool>,
    devices: Option<bool>,
    refresh: Option<Quantity>,
    full_resync: Option<Quantity>,
    rate_limit_share: Option<f64>,
    profiles_file: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OAuthSchema {
    client_id: Option<String>,
    private_key_file: Option<PathBuf>,
    key_id: Option<String>,
    scopes: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TlsSchema {
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    verify_certificate: Option<bool>,
}

/// Checks the file's text against the file's schema only (no environment, no value
/// validation): the first TOML syntax error, unknown key or wrongly typed value, as a
/// [`ConfigError::Syntax`] with its line and column. Used by `oktaflow check`.
pub fn check_file_schema(path: &Path, text: &str) -> Result<(), ConfigError> {
    parse_file(path, text).map(|_| ())
}

fn parse_file(path: &Path, text: &str) -> Result<FileSchema, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start.min(text.len()));
        let before = &text[..offset];
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: with_suggestion(error.message()),
        }
    })
}

/// `message` on one line; an unknown field (`` unknown field `intervall`, expected one of
/// `name`, ... ``) gets `; did you mean `interval`?` when a known one is close.
fn with_suggestion(message: &str) -> String {
    let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut names = message.split('`').skip(1).step_by(2);
    if let (true, Some(unknown)) = (message.starts_with("unknown field"), names.next()) {
        let distance = |name: &&str| strsim::levenshtein(unknown, name);
        let closest = names.filter(|n| distance(n) <= 2).min_by_key(distance);
        if let Some(name) = closest.map(|n| format!("; did you mean `{n}`?")) {
            message.push_str(&name);
        }
    }
    message
}

// ---------------------------------------------------------------------------------------------
// The layers, as figment providers, and reading merged values with their origin

/// One layer's values: a figment provider whose metadata names where they came from (the
/// file and section, the variable or the flag); its source tells the layer: a file, `env` or
/// `flag`.
#[derive(Clone)]
struct Layer(Metadata, Dict);

impl Layer {
    /// The file's top level (`section` is `None`) or one source's table.
    fn file(path: &str, section: Option<&str>, value: Result<Value, figment::Error>) -> Layer {
        let name = section.map_or_else(|| path.to_string(), |s| format!("{path} [{s}]"));
        let dict = value.ok().and_then(Value::into_dict).unwrap_or_default();
        Layer(
            Metadata::named(name).source(Source::File(path.into())),
            dict,
        )
    }

    /// One variable's (`layer` is `env`) or one flag's (`flag`) value for `key`.
    fn single(layer: &str, name: &str, key: &str, value: Value) -> Layer {
        let dict = figment::util::nest(key, value)
            .into_dict()
            .unwrap_or_default();
        let metadata = Metadata::named(name.to_string()).source(Source::Custom(layer.into()));
        Layer(metadata, dict)
    }

    /// The layer's precedence: file 0, environment 1, flag 2.
    fn rank(metadata: &Metadata) -> u8 {
        match &metadata.source {
            Some(Source::Custom(layer)) if layer == "env" => 1,
            Some(Source::Custom(_)) => 2,
            _ => 0,
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.0.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.1.clone()))
    }
}

/// The environment's then the flags' layers (lowest first): (top-level ones, source ones).
fn command_line_layers(
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> (Vec<Layer>, Vec<Layer>) {
    let mut layers = Vec::new();
    for (index, key) in ENV_KEYS.split_whitespace().enumerate() {
        let old = OLD_ENV_NAMES.iter().filter(|(k, _)| *k == key);
        let mut names = std::iter::once(env_var(key)).chain(old.map(|(_, n)| n.to_string()));
        let Some((name, text)) = names.find_map(|n| env(&n).map(|t| (n, t))) else {
            continue;
        };
        let value = if key == "sinks" {
            let specs = text.split(',').map(str::trim).filter(|s| !s.is_empty());
            Value::from(specs.map(String::from).collect::<Vec<_>>())
        } else {
            Value::from(text)
        };
        layers.push((index < TOP_KEYS, Layer::single("env", &name, key, value)));
    }
    for (flag, key, value) in flags.given() {
        let top = ENV_KEYS.split_whitespace().take(TOP_KEYS).any(|k| k == key);
        layers.push((top, Layer::single("flag", &flag, &key, value)));
    }
    let (top, source): (Vec<_>, Vec<_>) = layers.into_iter().partition(|(top, _)| *top);
    let strip = |list: Vec<(bool, Layer)>| list.into_iter().map(|(_, l)| l).collect();
    (strip(top), strip(source))
}

/// A value and where it came from.
struct Sourced<T> {
    value: T,
    origin: String,
    /// [`Layer::rank`].
    rank: u8,
}

impl<T> Sourced<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced {
            value: f(self.value),
            origin: self.origin,
            rank: self.rank,
        }
    }
}

/// The merged layers of the top level or of one source; each problem found is recorded.
struct View<'a> {
    fig: Figment,
    /// `source`, `sources[1]`, or `None` for the top level.
    section: Option<&'a str>,
    errors: &'a mut Vec<ConfigError>,
    /// The environment (secrets named by `*_env` keys).
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl View<'_> {
    fn bad(&mut self, key: &str, origin: &str, reason: impl Into<String>) {
        let key = self
            .section
            .map_or_else(|| key.to_string(), |s| format!("{s}.{key}"));
        self.errors.push(invalid(&key, origin, &reason.into()));
    }

    fn present(&self, key: &str) -> bool {
        matches!(self.fig.find_value(key), Ok(value) if !matches!(value, Value::Empty(..)))
    }

    /// Where the value of `key` came from (`defaults` when no layer has one).
    fn origin(&self, key: &str) -> String {
        match self.fig.find_metadata(key) {
            Some(m) if self.present(key) => match (&m.source, self.section) {
                (Some(Source::File(_)), Some(_)) => format!("{} {key}", m.name),
                _ => m.name.to_string(),
            },
            _ => "defaults".to_string(),
        }
    }

    /// The value of `key` from the highest layer that has one; text is read as text.
    fn get<T: DeserializeOwned>(&mut self, key: &str) -> Option<Sourced<T>> {
        self.extract(key, false)
    }

    /// Like [`View::get`], a number or a boolean also from text (`"0.5"`, `"true"`).
    fn typed<T: DeserializeOwned>(&mut self, key: &str) -> Option<Sourced<T>> {
        self.extract(key, true)
    }

    fn extract<T: DeserializeOwned>(&mut self, key: &str, lossy: bool) -> Option<Sourced<T>> {
        if !self.present(key) {
            return None;
        }
        let origin = self.origin(key);
        let rank = self.fig.find_metadata(key).map_or(0, Layer::rank);
        let value = if lossy {
            self.fig.extract_inner_lossy(key)
        } else {
            self.fig.extract_inner(key)
        };
        match value {
            Ok(value) => Some(Sourced {
                value,
                origin,
                rank,
            }),
            Err(error) => {
                self.bad(key, &origin, error.kind.to_string());
                None
            }
        }
    }

    /// A duration setting, parsed.
    fn duration(&mut self, key: &str) -> Option<(Duration, Sourced<String>)> {
        let text = self.get::<Quantity>(key)?.map(Quantity::into_text);
        match parse_duration(&text.value) {
            Ok(duration) => Some((duration, text)),
            Err(reason) => {
                self.bad(key, &text.origin, reason);
                None
            }
        }
    }

    /// The contents of the file named by `key`, as a [`Secret`] (errors never show them).
    fn read_file(&mut self, key: &str) -> Option<Secret> {
        let path = self.get::<PathBuf>(key)?;
        let shown = path.value.display();
        match std::fs::read_to_string(&path.value) {
            Ok(text) if text.trim().is_empty() => {
                self.bad(key, &path.origin, format!("{shown} is empty"))
            }
            Ok(text) => return Some(Secret::new(text)),
            Err(e) => self.bad(key, &path.origin, format!("cannot read {shown}: {e}")),
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Which of two settings filling one slot applies (`domain` or `okta_url`, `api_token` or
/// `api_token_file`): the one from the higher layer; both from the same layer is a problem.
fn one_of(
    v: &mut View,
    a: &'static str,
    b: &'static str,
) -> Result<Option<(&'static str, Sourced<String>)>, ()> {
    match (v.get::<String>(a), v.get::<String>(b)) {
        (Some(x), Some(y)) if x.rank == y.rank => {
            let origin = format!("{} and {}", x.origin, y.origin);
            v.bad(a, &origin, format!("both {a} and {b} are set; keep one"));
            Err(())
        }
        (Some(x), Some(y)) => Ok(Some(if x.rank > y.rank { (a, x) } else { (b, y) })),
        (x, y) => Ok(x.map(|x| (a, x)).or(y.map(|y| (b, y)))),
    }
}

/// One source's settings, checked; every problem is recorded in `v` (then the returned value,
/// which holds placeholders where a setting was wrong, is thrown away).
fn build_source(v: &mut View, now: DateTime<Utc>) -> SourceConfig {
    let name = match v.get::<String>("name") {
        None => DEFAULT_SOURCE_NAME.to_string(),
        Some(n) => {
            let valid = !n.value.is_empty()
                && !n.value.starts_with('.')
                && n.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                let reason = format!(
                    "`{}` is not a valid name; use letters, digits, '.', '_' or '-'",
                    n.value
                );
                v.bad("name", &n.origin, reason);
            }
            n.value
        }
    };
    // Placeholders let the other settings be checked when the org or credentials are wrong.
    let org = org(v)
        .unwrap_or_else(|| OrgUrl::from_domain("placeholder.okta.com").expect("a valid domain"));
    let kind = v.get::<String>("kind");
    let mut sqs_kind = false;
    let push_kind = match kind.as_ref().map(|k| k.value.trim().to_ascii_lowercase()) {
        None => false,
        Some(k) if k == "api" => false,
        Some(k) if k == "eventbridge" => true,
        Some(k) if k == "sqs" => {
            sqs_kind = true;
            false
        }
        Some(k) => {
            let origin = kind.as_ref().map(|k| k.origin.clone()).unwrap_or_default();
            let reason =
                format!("`{k}` is not a source kind; use \"api\", \"eventbridge\" or \"sqs\"");
            v.bad("kind", &origin, reason);
            false
        }
    };
    let has_credentials = ["api_token", "api_token_file", "oauth"]
        .into_iter()
        .any(|k| v.present(k));
    // A push source needs API credentials only to fill gaps; without them it only receives.
    let auth = if (push_kind || sqs_kind) && !has_credentials {
        Auth::ApiToken(Secret::unlisted("placeholder"))
    } else {
        auth(v).unwrap_or_else(|| Auth::ApiToken(Secret::unlisted("placeholder")))
    };
    if !push_kind && v.present("eventbridge") {
        let origin = v.origin("eventbridge");
        v.bad(
            "eventbridge",
            &origin,
            "applies only to a source with kind = \"eventbridge\"",
        );
    }
    let push = push_kind
        .then(|| {
            let defaults = PushOptions::default();
            push_table(v, "eventbridge", defaults, has_credentials, |r, env| {
                oktaflow_push::ReceiverSettings::config(r, env)
            })
        })
        .flatten()
        .map(|(receiver, options)| PushSource {
            receiver,
            options,
            api_credentials: has_credentials,
        });
    if !sqs_kind && v.present("sqs") {
        let origin = v.origin("sqs");
        v.bad(
            "sqs",
            &origin,
            "applies only to a source with kind = \"sqs\"",
        );
    }
    let sqs = sqs_kind
        .then(|| {
            let defaults = PushOptions {
                linger: oktaflow_pipeline::DEFAULT_SQS_LINGER,
                ..PushOptions::default()
            };
            push_table(v, "sqs", defaults, has_credentials, |r, env| {
                oktaflow_sqs::SqsSettings::config(r, env)
            })
        })
        .flatten()
        .map(|((config, credentials_from), options)| SqsSource {
            config,
            options,
            api_credentials: has_credentials,
            credentials_from,
        });
    let mut client = ClientConfig::new(org, auth);
    if let Some(s) = v.typed("page_size") {
        client.page_size = s.value;
    }
    if let Some(s) = v.typed("rate_limit_share") {
        client.rate_limit_share = s.value;
    }
    if let Some((timeout, _)) = v.duration("request_timeout") {
        client.request_timeout = timeout;
    }
    if let Some(size) = v.get::<Quantity>("max_response_body") {
        match size.value.size() {
            Ok(bytes) => client.max_response_body = bytes,
            Err(reason) => v.bad("max_response_body", &size.origin, reason),
        }
    }
    client.proxy_url = v.get("proxy_url").map(|s| s.value);
    // The client builder reads the files; they are read here too so that an unreadable or
    // empty file is reported with where the setting came from.
    let mut tls_file = |key: &str| {
        v.read_file(key)?;
        v.get::<PathBuf>(key).map(|path| path.value)
    };
    client.tls = TlsConfig {
        ca_file: tls_file("tls.ca_file"),
        cert_file: tls_file("tls.cert_file"),
        key_file: tls_file("tls.key_file"),
        verify_certificate: v.typed("tls.verify_certificate").is_none_or(|s| s.value),
    };
    check_client(v, &mut client);

    let start_from = match v.get::<String>("start_from") {
        Some(s) => oktaflow_fetch::parse_start_from(&s.value, now).unwrap_or_else(|reason| {
            v.bad("start_from", &s.origin, reason);
            now
        }),
        None => now - TimeDelta::from_std(DEFAULT_START_BACK).expect("a day fits a TimeDelta"),
    };
    let mut options = SourceOptions::default();
    if let Some((interval, text)) = v.duration("interval") {
        if (MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            options.poll_interval = interval;
        } else {
            let reason = format!("`{}` is out of range; use 10s..1d", text.value);
            v.bad("interval", &text.origin, reason);
        }
    }
    if let Some(k) = v.typed::<usize>("backfill_concurrency") {
        if (1..=MAX_BACKFILL_CONCURRENCY).contains(&k.value) {
            options.backfill_concurrency = k.value;
        } else {
            let reason = format!(
                "{} is out of range; use 1..={MAX_BACKFILL_CONCURRENCY}",
                k.value
            );
            v.bad("backfill_concurrency", &k.origin, reason);
        }
    }
    let silence_alert = match v
        .get::<Quantity>("silence_alert")
        .map(|s| s.value.into_text())
    {
        Some(text) if text.trim().eq_ignore_ascii_case("off") => None,
        Some(_) => match v.duration("silence_alert") {
            Some((limit, text)) if limit < Duration::from_secs(1) => {
                let reason = format!("`{}` is too short; use at least 1s, or \"off\"", text.value);
                v.bad("silence_alert", &text.origin, reason);
                None
            }
            limit => limit.map(|(limit, _)| limit),
        },
        None => Some(DEFAULT_SILENCE_ALERT),
    };
    let schema = match v.get::<String>("schema") {
        None => oktaflow_normalize::Schema::default(),
        Some(s) => s
            .value
            .trim()
            .parse()
            .unwrap_or_else(|e: oktaflow_normalize::SchemaError| {
                v.bad("schema", &s.origin, e.to_string());
                oktaflow_normalize::Schema::default()
            }),
    };
    let enrichment = enrichment(v, &client);
    let push = push;
    SourceConfig {
        name,
        client,
        start_from,
        options,
        silence_alert,
        schema,
        enrichment,
        push,
        sqs,
    }
}

/// A push source's table (`eventbridge` or `sqs`), read by figment into the types of the
/// crates that own its keys and checked by them: `route` turns the route's keys into its
/// settings. Every problem is recorded with where its value came from.
fn push_table<R, C>(
    v: &mut View,
    table: &str,
    defaults: PushOptions,
    api_credentials: bool,
    route: impl FnOnce(&R, &dyn Fn(&str) -> Option<String>) -> Result<C, Vec<SettingError>>,
) -> Option<(C, PushOptions)>
where
    R: DeserializeOwned + Default,
{
    let settings = match v.present(table) {
        true => v.get::<PushTable<R>>(table)?.value,
        false => PushTable::default(),
    };
    let env = v.env;
    let route = route(&settings.route, env);
    let options = settings.stream.options(defaults, api_credentials);
    match (route, options) {
        (Ok(route), Ok(options)) => Some((route, options)),
        (route, options) => {
            let errors = route.err().into_iter().chain(options.err()).flatten();
            for error in errors {
                let key = format!("{table}.{}", error.key);
                let origin = v.origin(if v.present(&key) { &key } else { table });
                v.bad(&key, &origin, error.reason);
            }
            None
        }
    }
}

/// Shortest and longest enrichment refresh period.
const ENRICH_REFRESH_RANGE: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(7 * 86_400));

/// The range of `enrichment.full_resync`.
const ENRICH_FULL_RESYNC_RANGE: (Duration, Duration) =
    (Duration::from_secs(3600), Duration::from_secs(30 * 86_400));

/// `[source.enrichment]`: present means on, users and devices each on unless set to false;
/// with OAuth, `oauth.scopes` must list the scopes enrichment reads with.
fn enrichment(v: &mut View, client: &ClientConfig) -> Option<oktaflow_pipeline::EnrichOptions> {
    if !v.present("enrichment") {
        return None;
    }
    let mut options = oktaflow_pipeline::EnrichOptions::default();
    if let Some(users) = v.typed::<bool>("enrichment.users") {
        options.users = users.value;
    }
    if let Some(devices) = v.typed::<bool>("enrichment.devices") {
        options.devices = devices.value;
    }
    if let Some((refresh, text)) = v.duration("enrichment.refresh") {
        let (min, max) = ENRICH_REFRESH_RANGE;
        if (min..=max).contains(&refresh) {
            options.refresh = refresh;
        } else {
            let reason = format!("`{}` is out of range; use 1m..7d", text.value);
            v.bad("enrichment.refresh", &text.origin, reason);
        }
    }
    if let Some((full, text)) = v.duration("enrichment.full_resync") {
        let (min, max) = ENRICH_FULL_RESYNC_RANGE;
        if (min..=max).contains(&full) {
            options.full_resync = full;
        } else {
            let reason = format!("`{}` is out of range; use 1h..30d", text.value);
            v.bad("enrichment.full_resync", &text.origin, reason);
        }
    }
    if let Some(share) = v.typed::<f64>("enrichment.rate_limit_share") {
        if share.value > 0.0 && share.value <= 1.0 {
            options.rate_limit_share = share.value;
        } else {
            let reason = format!("{} is out of range; use a share in (0, 1]", share.value);
            v.bad("enrichment.rate_limit_share", &share.origin, reason);
        }
    }
    options.profiles_file = v
        .get::<PathBuf>("enrichment.profiles_file")
        .map(|p| p.value);
    if !options.users && !options.devices {
        return None;
    }
    if let Auth::OAuth { scopes, .. } = &client.auth {
        let missing: Vec<&str> = oktaflow_pipeline::required_scopes(options.users, options.devices)
            .into_iter()
            .filter(|needed| !scopes.iter().any(|s| s == needed))
            .collect();
        if !missing.is_empty() {
            let origin = v.origin("enrichment");
            let reason = format!(
                "enrichment reads with the OAuth scopes {}: add them to oauth.scopes (with okta.logs.read) and grant them to the service app",
                missing.join(", ")
            );
            v.bad("enrichment", &origin, reason);
        }
    }
    Some(options)
}

/// Records every field the fetch crate refuses: its check names the first bad field, which is
/// then set back to its default and the check repeated.
fn check_client(v: &mut View, client: &mut ClientConfig) {
    let defaults = ClientConfig::new(client.org.clone(), client.auth.clone());
    while let Err(error) = client.validate() {
        let origin = match error.field {
            "api_token" if !v.present("api_token") => v.origin("api_token_file"),
            field => v.origin(field),
        };
        v.bad(error.field, &origin, error.reason);
        match error.field {
            "page_size" => client.page_size = defaults.page_size,
            "rate_limit_share" => client.rate_limit_share = defaults.rate_limit_share,
            "request_timeout" => client.request_timeout = defaults.request_timeout,
            "max_response_body" => client.max_response_body = defaults.max_response_body,
            "proxy_url" => client.proxy_url = None,
            "tls.key_file" | "tls.cert_file" => {
                (client.tls.cert_file, client.tls.key_file) = (None, None);
            }
            _ => break, // the credentials, checked last
        }
    }
}

fn org(v: &mut View) -> Option<OrgUrl> {
    let Some((key, place)) = one_of(v, "domain", "okta_url").ok()? else {
        let reason =
            "no Okta org configured; set domain = \"acme.okta.com\", OKTAFLOW_DOMAIN or --domain";
        v.bad("domain", "defaults", reason);
        return None;
    };
    let org = match key {
        "domain" => OrgUrl::from_domain(&place.value),
        _ => OrgUrl::from_base_url(&place.value),
    };
    org.map_err(|e| v.bad(key, &place.origin, e.reason)).ok()
}

fn auth(v: &mut View) -> Option<Auth> {
    let token = one_of(v, "api_token", "api_token_file").ok()?;
    let oauth_keys = [
        "oauth.client_id",
        "oauth.private_key_file",
        "oauth.key_id",
        "oauth.scopes",
    ];
    let oauth = oauth_keys
        .into_iter()
        .find(|k| v.present(k))
        .map(|k| v.origin(k));
    match (token, oauth) {
        (Some((_, token)), Some(oauth)) => {
            let reason = "both an API token and OAuth are configured; keep one";
            v.bad(
                "api_token",
                &format!("{} and {oauth}", token.origin),
                reason,
            );
            None
        }
        (None, None) => {
            let table = v
                .section
                .map_or("source", |s| s.split('[').next().unwrap_or(s));
            let reason = format!("no credentials; set OKTA_API_TOKEN, api_token_file, or [{table}.oauth] client_id + private_key_file");
            v.bad("api_token", "defaults", reason);
            None
        }
        (Some(("api_token", token)), None) => Some(Auth::ApiToken(Secret::new(token.value))),
        (Some(_), None) => {
            let text = v.read_file("api_token_file")?;
            Some(Auth::ApiToken(Secret::new(text.expose().trim())))
        }
        (None, Some(origin)) => {
            let client_id = v
                .get::<String>("oauth.client_id")
                .filter(|c| !c.value.trim().is_empty());
            if client_id.is_none() {
                v.bad(
                    "oauth.client_id",
                    &origin,
                    "missing; the service app's client id",
                );
            }
            if !v.present("oauth.private_key_file") {
                let reason = "missing; the PEM private key registered with the service app";
                v.bad("oauth.private_key_file", &origin, reason);
            }
            let private_key = v.read_file("oauth.private_key_file");
            Some(Auth::OAuth {
                client_id: client_id?.value,
                private_key: private_key?,
                key_id: v.get("oauth.key_id").map(|s| s.value),
                scopes: v.get("oauth.scopes").map(|s| s.value).unwrap_or_default(),
            })
        }
    }
}

/// One sink in the configuration: a spec string (`"file:PATH"`, `"elasticsearch:URL?..."`)
/// or a table (`[[sinks]]` with a `kind` key); a `sinks` array may mix both.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum SinkEntry {
    /// A spec, as on the command line.
    Spec(String),
    /// A table, read by [`SinkSpec::from_table`] (kept as a TOML table here
    /// so that its error names the bad key instead of "did not match any variant").
    Table(toml::Table),
}

/// Each sink of `entries` with its own `schema` (`None`: the source's), in order.
fn parse_sinks(
    entries: Vec<SinkEntry>,
    key: &str,
    origin: &str,
) -> Result<Vec<(SinkSpec, Option<oktaflow_normalize::Schema>)>, ConfigError> {
    let mut sinks: Vec<(SinkSpec, _)> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let (label, parsed, schema) = match entry {
            SinkEntry::Spec(text) => {
                let (text, schema) = split_sink_schema(text.trim());
                let parsed = oktaflow_sink::parse_sink_spec(&text).map_err(|e| e.to_string());
                (
                    format!("`{}`", text.split('?').next().unwrap_or(&text)),
                    parsed,
                    Ok(schema),
                )
            }
            SinkEntry::Table(mut table) => {
                let schema = match table.remove("schema") {
                    None => Ok(None),
                    Some(toml::Value::String(name)) => Ok(Some(name)),
                    Some(other) => Err(format!(
                        "schema: expected a schema name (one of: {}), got {other}",
                        oktaflow_normalize::Schema::names()
                    )),
                };
                let parsed = SinkSpec::from_table(table).map_err(|e| with_suggestion(&e));
                (format!("sinks[{index}]"), parsed, schema)
            }
        };
        let sink = parsed.map_err(|reason| invalid(key, origin, &reason))?;
        let schema = schema
            .and_then(|name| sink_schema(&sink, name))
            .map_err(|reason| invalid(key, origin, &reason))?;
        if sinks.iter().any(|(listed, _)| listed == &sink) {
            return Err(invalid(key, origin, &format!("{label} is listed twice")));
        }
        sinks.push((sink, schema));
    }
    if sinks.is_empty() {
        let reason = "no sink; use file:PATH, stdout or a store such as elasticsearch:URL";
        return Err(invalid(key, origin, reason));
    }
    Ok(sinks)
}

/// `[detect]`: `enabled` (default true), `alerts` (like `sinks`; default beside the event
/// sinks, `[]` nowhere) and the rules' tuning ([`oktaflow_detect::RulesConfig`]), each checked
/// before any work. `None` when `enabled = false`.
fn parse_detect(
    mut table: toml::Table,
    origin: &str,
) -> Result<Option<oktaflow_pipeline::DetectConfig>, ConfigError> {
    let bad = |key: &str, reason: &str| invalid(key, origin, reason);
    let enabled = match table.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(on)) => on,
        Some(other) => {
            return Err(bad(
                "detect.enabled",
                &format!("expected true or false, got {other}"),
            ))
        }
    };
    let alerts = match table
        .remove("alerts")
        .map(toml::Value::try_into::<Vec<SinkEntry>>)
    {
        None => None,
        Some(Err(e)) => return Err(bad("detect.alerts", e.message())),
        Some(Ok(entries)) if entries.is_empty() => Some(Vec::new()),
        Some(Ok(entries)) => {
            let mut alerts = Vec::with_capacity(entries.len());
            for (sink, schema) in parse_sinks(entries, "detect.alerts", origin)? {
                if schema.is_some() {
                    let reason = format!(
                        "sink {sink}: alerts have one layout of their own; give `schema` to \
                         event sinks only"
                    );
                    return Err(bad("detect.alerts", &reason));
                }
                alerts.push(sink);
            }
            Some(alerts)
        }
    };
    let rules: oktaflow_detect::RulesConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| bad("detect", &with_suggestion(e.message())))?;
    // Reads the Sigma rule files now: a bad rule is refused before any work starts.
    oktaflow_detect::Detector::load(rules.clone()).map_err(|e| bad("detect", &e.to_string()))?;
    Ok(enabled.then_some(oktaflow_pipeline::DetectConfig { rules, alerts }))
}

/// Parses `500ms`, `10s`, `2m`, `1h30m`, `7d`, `1w` (a sequence of number+unit); shared with
/// the sinks' options (`rotate_interval`), so every duration of the configuration reads alike.
pub use oktaflow_plumbing::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOKEN: &str = "00SuperSecretTokenValue-xyz";

    fn now() -> DateTime<Utc> {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    fn run(
        file: Option<&str>,
        env: &[(&str, &str)],
        flags: &Overrides,
    ) -> Result<RunConfig, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.get(name).cloned();
        resolve(
            file.map(|text| (Path::new("oktaflow.toml"), text)),
            &lookup,
            flags,
            now(),
        )
    }

    fn err(file: Option<&str>, env: &[(&str, &str)], flags: &Overrides) -> String {
        match run(file, env, flags) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_eventbridge_source_needs_no_api_token_and_reads_its_key_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "eventbridge-key-0123456789\n").unwrap();
        let text = format!(
            "[[sources]]\nname = \"push\"\nkind = \"eventbridge\"\ndomain = \"acme.okta.com\"\n\
             [sources.eventbridge]\nlisten = \"127.0.0.1:8088\"\napi_key_header = \"x-oktaflow-key\"\n\
             api_key_file = \"{}\"\nmax_body = \"64KiB\"\nmax_in_flight = 100\nack_timeout = \"3s\"\n\
             dedup_window = 5000\n",
            key.display()
        );
        let config = run(Some(&text), &[], &Overrides::default()).unwrap();
        let push = config.sources[0].push.clone().expect("a push source");
        assert!(!push.api_credentials);
        assert_eq!(push.receiver.listen, "127.0.0.1:8088".parse().unwrap());
        assert_eq!(push.receiver.max_body, 64 * 1024);
        assert_eq!(push.receiver.max_in_flight, 100);
        assert_eq!(push.receiver.ack_timeout, Duration::from_secs(3));
        assert_eq!(push.options.dedup_window, 5000);
        match &push.receiver.auth {
            oktaflow_push::Auth::ApiKey { header, value } => {
                assert_eq!(header.as_str(), "x-oktaflow-key");
                assert_eq!(value.expose(), "eventbridge-key-0123456789");
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{config:?}").contains("eventbridge-key-0123456789"));
        assert_eq!(
            push.options.gap_fill, None,
            "no API credentials: receive only"
        );
    }

    #[test]
    fn an_eventbridge_source_with_api_credentials_fills_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "eventbridge-key-0123456789\n").unwrap();
        let base = format!(
            "[[sources]]\nname = \"push\"\nkind = \"eventbridge\"\ndomain = \"acme.okta.com\"\napi_token = \"{TOKEN}\"\n\
             [sources.eventbridge]\nlisten = \"127.0.0.1:8088\"\napi_key_header = \"x-k\"\napi_key_file = \"{}\"\n",
            key.display()
        );
        let env: [(&str, &str); 0] = [];
        let config = run(Some(&base), &env, &Overrides::default()).unwrap();
        let push = config.sources[0].push.clone().expect("a push source");
        assert_eq!(
            push.options.gap_fill,
            Some(oktaflow_pipeline::GapFill::default())
        );
        let tuned = format!(
            "{base}gap_jump = \"2m\"\ngap_silence = \"30s\"\ngap_overlap = \"10s\"\ngap_settle = \"5s\"\n"
        );
        let config = run(Some(&tuned), &env, &Overrides::default()).unwrap();
        let fill = config.sources[0]
            .push
            .clone()
            .unwrap()
            .options
            .gap_fill
            .unwrap();
        assert_eq!(fill.jump, Duration::from_secs(120));
        assert_eq!(fill.silence, Duration::from_secs(30));
        assert_eq!(fill.overlap, Duration::from_secs(10));
        assert_eq!(fill.settle, Duration::from_secs(5));
        let off = format!("{base}gap_fill = false\n");
        let config = run(Some(&off), &env, &Overrides::default()).unwrap();
        assert_eq!(
            config.sources[0].push.clone().unwrap().options.gap_fill,
            None
        );
        let no_token = base.replace(&format!("api_token = \"{TOKEN}\"\n"), "");
        let e = err(
            Some(&format!("{no_token}gap_fill = true\n")),
            &env,
            &Overrides::default(),
        );
        assert!(e.contains("eventbridge.gap_fill"), "{e}");
    }

    #[test]
    fn an_sqs_source_reads_its_queue_and_secret_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("aws-secret");
        std::fs::write(&key, "sqs-secret-key-0123456789\n").unwrap();
        let text = format!(
            "[[sources]]\nname = \"queue\"\nkind = \"sqs\"\ndomain = \"acme.okta.com\"\n\
             [sources.sqs]\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/okta\"\n\
             access_key_id = \"AKIDOKTAFLOW\"\nsecret_access_key_file = \"{}\"\n\
             wait_time = \"10s\"\nvisibility_timeout = \"2m\"\nmax_messages = 5\n\
             max_in_flight = 500\ndedup_window = 7000\n",
            key.display()
        );
        let config = run(Some(&text), &[], &Overrides::default()).unwrap();
        let sqs = config.sources[0].sqs.clone().expect("an SQS source");
        assert!(config.sources[0].push.is_none());
        assert!(!sqs.api_credentials);
        assert_eq!(sqs.config.region, "eu-west-1", "from the queue URL");
        assert_eq!(sqs.config.credentials.access_key_id, "AKIDOKTAFLOW");
        assert_eq!(
            sqs.config.credentials.secret_access_key.expose(),
            "sqs-secret-key-0123456789"
        );
        assert_eq!(sqs.config.wait_time, Duration::from_secs(10));
        assert_eq!(sqs.config.visibility_timeout, Duration::from_secs(120));
        assert_eq!(sqs.config.max_messages, 5);
        assert_eq!(sqs.config.max_in_flight, 500);
        assert_eq!(sqs.options.dedup_window, 7000);
        assert_eq!(sqs.options.linger, oktaflow_pipeline::DEFAULT_SQS_LINGER);
        assert!(!format!("{config:?}").contains("sqs-secret-key-0123456789"));
    }

    #[test]
    fn an_sqs_source_with_api_credentials_fills_gaps_like_an_eventbridge_one() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("aws-secret");
        std::fs::write(&key, "sqs-secret-key-0123456789\n").unwrap();
        let base = format!(
            "[[sources]]\nname = \"queue\"\nkind = \"sqs\"\ndomain = \"acme.okta.com\"\napi_token = \"{TOKEN}\"\n\
             [sources.sqs]\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/okta\"\n\
             access_key_id = \"AKIDOKTAFLOW\"\nsecret_access_key_file = \"{}\"\n",
            key.display()
        );
        let env: [(&str, &str); 0] = [];
        let config = run(Some(&base), &env, &Overrides::default()).unwrap();
        let sqs = config.sources[0].sqs.clone().expect("an SQS source");
        assert!(sqs.api_credentials);
        assert_eq!(
            sqs.options.gap_fill,
            Some(oktaflow_pipeline::GapFill::default())
        );
        let tuned = format!("{base}gap_jump = \"2m\"\ngap_settle = \"5s\"\n");
        let config = run(Some(&tuned), &env, &Overrides::default()).unwrap();
        let fill = config.sources[0]
            .sqs
            .clone()
            .unwrap()
            .options
            .gap_fill
            .unwrap();
        assert_eq!(fill.jump, Duration::from_secs(120));
        assert_eq!(fill.settle, Duration::from_secs(5));
        let off = format!("{base}gap_fill = false\n");
        let config = run(Some(&off), &env, &Overrides::default()).unwrap();
        assert_eq!(
            config.sources[0].sqs.clone().unwrap().options.gap_fill,
            None
        );
        let no_token = base.replace(&format!("api_token = \"{TOKEN}\"\n"), "");
        let e = err(
            Some(&format!("{no_token}gap_fill = true\n")),
            &env,
            &Overrides::default(),
        );
        assert!(e.contains("sqs.gap_fill"), "{e}");
    }

    #[test]
    fn sqs_problems_are_one_line_each_and_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("aws-secret");
        std::fs::write(&key, "sqs-secret-key-0123456789\n").unwrap();
        let base = "[[sources]]\nname = \"queue\"\nkind = \"sqs\"\ndomain = \"acme.okta.com\"\n[sources.sqs]\n";
        let good = format!(
            "queue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/okta\"\naccess_key_id = \"AKIDOKTAFLOW\"\nsecret_access_key_file = \"{}\"\n",
            key.display()
        );
        let cases = [
            ("wait_time = \"21s\"\n", "sqs.wait_time"),
            ("wait_time = \"1500ms\"\n", "sqs.wait_time"),
            ("max_messages = 11\n", "sqs.max_messages"),
            ("visibility_timeout = \"13h\"\n", "sqs.visibility_timeout"),
            ("dedup_window = 0\n", "sqs.dedup_window"),
            ("endpoint = \"http://sqs.example.com\"\n", "sqs.endpoint"),
            (
                "secret_access_key_env = \"OKTAFLOW_TEST_SURELY_UNSET_AWS\"\n",
                "secret_access_key",
            ),
        ];
        for (extra, key) in cases {
            let text = format!("{base}{good}{extra}");
            let e = err(Some(&text), &[], &Overrides::default());
            assert!(e.contains(key), "{extra}: {e}");
            assert!(!e.contains("sqs-secret-key-0123456789"), "{e}");
        }
        // A queue URL that names no region needs sqs.region.
        let local = format!("{base}queue_url = \"http://127.0.0.1:9324/000000000000/q\"\naccess_key_id = \"A\"\nsecret_access_key_file = \"{}\"\n", key.display());
        let e = err(Some(&local), &[], &Overrides::default());
        assert!(e.contains("sqs.region"), "{e}");
        let with_region = format!("{local}region = \"us-east-1\"\n");
        let config = run(Some(&with_region), &[], &Overrides::default()).unwrap();
        assert_eq!(
            config.sources[0].sqs.as_ref().unwrap().config.region,
            "us-east-1"
        );
        // A key id without its secret.
        let half = format!("{base}queue_url = \"https://sqs.eu-west-1.amazonaws.com/1/q\"\naccess_key_id = \"A\"\n");
        let e = err(Some(&half), &[], &Overrides::default());
        assert!(e.contains("secret_access_key"), "{e}");
        // [sources.sqs] on another kind of source.
        let stray = format!(
            "[[sources]]\nname = \"a\"\ndomain = \"acme.okta.com\"\napi_token = \"{TOKEN}\"\n[sources.sqs]\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/1/q\"\n"
        );
        let e = err(Some(&stray), &[], &Overrides::default());
        assert!(
            e.contains("applies only to a source with kind = \"sqs\""),
            "{e}"
        );
        // An unknown key is refused by the schema.
        let unknown = format!("{base}{good}queue_name = \"x\"\n");
        let e = err(Some(&unknown), &[], &Overrides::default());
        assert!(e.contains("unknown field `queue_name`"), "{e}");
        // The file's position of an unknown key or a wrongly typed value, in either part of
        // the table (the queue's keys or the pipeline's).
        let lines = base.lines().count() + good.lines().count() + 1;
        let e = err(Some(&unknown), &[], &Overrides::default());
        assert!(e.starts_with(&format!("oktaflow.toml:{lines}:1: ")), "{e}");
        for extra in ["max_messages = \"x\"\n", "dedup_window = \"x\"\n"] {
            let e = err(
                Some(&format!("{base}{good}{extra}")),
                &[],
                &Overrides::default(),
            );
            assert!(e.starts_with(&format!("oktaflow.toml:{lines}:")), "{e}");
        }
        let typo = format!("{base}{good}gap_jum = \"1m\"\n");
        let e = err(Some(&typo), &[], &Overrides::default());
        assert!(e.contains("did you mean `gap_jump`?"), "{e}");
        // Without keys in the table, the AWS environment variables (when this test's
        // environment has none: the one-line error says what to set).
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            let bare = format!("{base}queue_url = \"https://sqs.eu-west-1.amazonaws.com/1/q\"\n");
            let e = err(Some(&bare), &[], &Overrides::default());
            assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        }
    }

    #[test]
    fn eventbridge_problems_are_one_line_each() {
        let base =
            "[[sources]]\nname = \"push\"\nkind = \"eventbridge\"\ndomain = \"acme.okta.com\"\n";
        let open = format!(
            "{base}[sources.eventbridge]\nlisten = \"0.0.0.0:8443\"\nusername = \"eb\"\npassword_env = \"OKTAFLOW_TEST_SURELY_UNSET_PW\"\n"
        );
        let e = err(Some(&open), &[], &Overrides::default());
        assert!(
            e.contains("eventbridge.password_env") && e.contains("OKTAFLOW_TEST_SURELY_UNSET_PW"),
            "{e}"
        );
        let no_auth = format!("{base}[sources.eventbridge]\nlisten = \"127.0.0.1:1\"\n");
        let e = err(Some(&no_auth), &[], &Overrides::default());
        assert!(e.contains("no credential"), "{e}");
        let no_listen = base.to_string();
        let e = err(Some(&no_listen), &[], &Overrides::default());
        assert!(e.contains("eventbridge.listen"), "{e}");
        let sqs = base.replace("eventbridge", "sqs");
        let e = err(Some(&sqs), &[], &Overrides::default());
        assert!(e.contains("sqs.queue_url"), "{e}");
        let stray = format!(
            "[[sources]]\nname = \"a\"\ndomain = \"acme.okta.com\"\napi_token = \"{TOKEN}\"\n[sources.eventbridge]\nlisten = \"127.0.0.1:1\"\n"
        );
        let e = err(Some(&stray), &[], &Overrides::default());
        assert!(e.contains("applies only to a source with kind"), "{e}");
        for line in e.lines() {
            assert!(!line.is_empty());
        }
    }

    #[test]
    fn enrichment_is_read_per_source_and_checked() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let base = "[source]\ndomain = \"acme.okta.com\"\n";
        let off = run(Some(base), &env, &Overrides::default()).unwrap();
        assert_eq!(off.sources[0].enrichment, None);
        let text = format!(
            "{base}[source.enrichment]\nusers = true\ndevices = false\nrefresh = \"30m\"\nfull_resync = \"12h\"\nprofiles_file = \"okta-users.ndjson\"\n"
        );
        let on = run(Some(&text), &env, &Overrides::default()).unwrap();
        let options = on.sources[0].enrichment.clone().expect("on");
        assert!(options.users && !options.devices);
        assert_eq!(options.refresh, Duration::from_secs(1800));
        assert_eq!(options.rate_limit_share, 0.2);
        assert_eq!(options.full_resync, Duration::from_secs(12 * 3600));
        assert_eq!(
            options.profiles_file.as_deref(),
            Some(Path::new("okta-users.ndjson"))
        );
        let bad = format!(
            "{base}[source.enrichment]\nrefresh = \"5s\"\nfull_resync = \"1m\"\nrate_limit_share = 2.0\n"
        );
        let message = err(Some(&bad), &env, &Overrides::default());
        assert!(message.contains("source.enrichment.refresh"), "{message}");
        assert!(
            message.contains("source.enrichment.full_resync"),
            "{message}"
        );
        assert!(
            message.contains("source.enrichment.rate_limit_share"),
            "{message}"
        );
        let typo = format!("{base}[source.enrichment]\nuser = true\n");
        assert!(err(Some(&typo), &env, &Overrides::default()).contains("user"));
    }

    #[test]
    fn minimal_env_only_config_gets_defaults() {
        let config = run(
            None,
            &[
                ("OKTAFLOW_DOMAIN", "acme.okta.com"),
                ("OKTA_API_TOKEN", TOKEN),
            ],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(config.sinks, vec![SinkSpec::Stdout]);
        let source = &config.sources[0];
        assert_eq!(source.name, "okta");
        assert_eq!(source.client.org.base().as_str(), "https://acme.okta.com/");
        assert_eq!(source.client.page_size, 1000);
        assert_eq!(source.client.rate_limit_share, 0.5);
        assert_eq!(source.options.poll_interval, Duration::from_secs(60));
        assert_eq!(source.options.backfill_concurrency, 1);
        assert_eq!(source.start_from, now() - TimeDelta::days(1));
        assert!(matches!(&source.client.auth, Auth::ApiToken(t) if t.expose() == TOKEN));
    }

    #[test]
    fn sinks_may_be_specs_or_tables_and_each_is_listed_once() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let text = r#"
sinks = ["file:/var/log/okta.ndjson", { kind = "clickhouse", url = "http://127.0.0.1:8123", table = "okta" }]

[source]
domain = "acme.okta.com"
"#;
        let config = run(Some(text), &env, &Overrides::default()).unwrap();
        assert_eq!(config.sinks.len(), 2);
        assert_eq!(
            config.sinks[0],
            SinkSpec::File("/var/log/okta.ndjson".into())
        );
        let SinkSpec::ClickHouse(ch) = &config.sinks[1] else {
            panic!("{:?}", config.sinks[1])
        };
        assert_eq!(
            (ch.url.as_str(), ch.table.as_str()),
            ("http://127.0.0.1:8123", "okta")
        );

        let tables = r#"
[source]
domain = "acme.okta.com"

[[sinks]]
kind = "elasticsearch"
url = "https://es.corp:9200"
api_key_env = "ES_API_KEY"

[[sinks]]
kind = "stdout"
"#;
        let config = run(Some(tables), &env, &Overrides::default()).unwrap();
        assert!(
            matches!(&config.sinks[0], SinkSpec::Elasticsearch(c) if c.url == "https://es.corp:9200")
        );
        assert_eq!(config.sinks[1], SinkSpec::Stdout);

        let typo = tables.replace("api_key_env", "api_key_evn");
        let m = err(Some(&typo), &env, &Overrides::default());
        assert!(m.starts_with("sinks (from "), "{m}");
        assert!(
            m.contains("unknown field `api_key_evn`") && !m.contains('\n'),
            "{m}"
        );
        assert!(m.ends_with("did you mean `api_key_env`?"), "{m}");

        let twice =
            "sinks = [\"stdout\", { kind = \"stdout\" }]\n[source]\ndomain = \"acme.okta.com\"\n";
        let m = err(Some(twice), &env, &Overrides::default());
        assert!(m.ends_with("sinks[1] is listed twice"), "{m}");

        let flags = Overrides {
            sinks: vec!["elasticsearch:http://127.0.0.1:9200?index=logs-okta.system-x".into()],
            ..Overrides::default()
        };
        let config = run(Some(tables), &env, &flags).unwrap();
        assert!(
            matches!(&config.sinks[..], [SinkSpec::Elasticsearch(c)] if c.index == "logs-okta.system-x")
        );
    }

    #[test]
    fn each_source_has_its_schema_and_a_bad_name_is_one_line() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let text = format!(
            r#"
sinks = ["file:/tmp/okta.ndjson"]
[[sources]]
name = "a"
domain = "a.okta.com"
api_token = "{TOKEN}"
schema = "elastic"
[[sources]]
name = "b"
domain = "b.okta.com"
api_token = "{TOKEN}"
"#
        );
        let config = run(Some(&text), &[], &Overrides::default()).unwrap();
        let schemas: Vec<_> = config.sources.iter().map(|s| s.schema).collect();
        assert_eq!(
            schemas,
            [
                oktaflow_normalize::Schema::Elastic,
                oktaflow_normalize::Schema::Ecs
            ]
        );
        // A single source takes it from the environment too.
        let config = run(
            None,
            &[
                ("OKTAFLOW_DOMAIN", "acme.okta.com"),
                ("OKTA_API_TOKEN", TOKEN),
                ("OKTAFLOW_SCHEMA", "elastic"),
            ],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.sources[0].schema,
            oktaflow_normalize::Schema::Elastic
        );
        let bad = "[source]\ndomain = \"a.okta.com\"\nschema = \"elk\"\n";
        let message = err(Some(bad), &env, &Overrides::default());
        assert_eq!(
            message,
            "source.schema (from oktaflow.toml [source] schema): unknown schema `elk` (expected one of: ecs, elastic, ocsf)"
        );
    }

    #[test]
    fn ocsf_is_refused_for_stores_keyed_on_timestamp_and_taken_for_files() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let file = "sinks = [\"file:/tmp/o.ndjson\"]\n[source]\ndomain = \"a.okta.com\"\nschema = \"ocsf\"\n";
        let config = run(Some(file), &env, &Overrides::default()).unwrap();
        assert_eq!(config.sources[0].schema, oktaflow_normalize::Schema::Ocsf);
        for sink in [
            "clickhouse:http://127.0.0.1:8123",
            "elasticsearch:http://127.0.0.1:9200",
        ] {
            let text = file.replace("file:/tmp/o.ndjson", sink);
            let message = err(Some(&text), &env, &Overrides::default());
            assert!(message.starts_with("source.schema"), "{message}");
            assert!(
                message.contains("schema \"ocsf\" cannot be written"),
                "{message}"
            );
        }
    }

    #[test]
    fn each_sink_takes_its_own_schema_or_the_sources_by_one_name_everywhere() {
        use oktaflow_normalize::Schema;
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let file = r#"
sinks = [
  "file:/tmp/o.ecs.ndjson",
  "file:/tmp/o.ocsf.ndjson?schema=ocsf&rotate_size=1MiB",
  { kind = "elasticsearch", url = "http://127.0.0.1:9200", schema = "elastic" },
  "stdout?schema=ocsf",
]
[source]
domain = "a.okta.com"
"#;
        let config = run(Some(file), &env, &Overrides::default()).unwrap();
        assert_eq!(
            config.sink_schemas,
            [
                None,
                Some(Schema::Ocsf),
                Some(Schema::Elastic),
                Some(Schema::Ocsf)
            ]
        );
        assert_eq!(config.sinks[3], SinkSpec::Stdout);
        let SinkSpec::File(rotated) = &config.sinks[1] else {
            panic!("{:?}", config.sinks[1]);
        };
        assert_eq!(rotated.path, Path::new("/tmp/o.ocsf.ndjson"));
        assert_eq!(rotated.rotation.size, Some(1 << 20));
        assert_eq!(config.sources[0].schema, Schema::Ecs);

        // The same key in the environment and on the command line (spec strings).
        let config = run(
            None,
            &[
                ("OKTAFLOW_DOMAIN", "a.okta.com"),
                ("OKTA_API_TOKEN", TOKEN),
                (
                    "OKTAFLOW_SINKS",
                    "file:/tmp/a.ndjson?schema=ocsf,file:/tmp/b.ndjson",
                ),
            ],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.sink_schemas, [Some(Schema::Ocsf), None]);
        let flags = Overrides {
            sinks: vec!["file:/tmp/c.ndjson?schema=elastic".into()],
            ..Overrides::default()
        };
        let config = run(
            None,
            &[("OKTAFLOW_DOMAIN", "a.okta.com"), ("OKTA_API_TOKEN", TOKEN)],
            &flags,
        )
        .unwrap();
        assert_eq!(config.sink_schemas, [Some(Schema::Elastic)]);

        // An unknown name names the sink, in a spec and in a table.
        let bad = file.replace("schema=ocsf&", "schema=osfc&");
        assert_eq!(
            err(Some(&bad), &env, &Overrides::default()),
            "sinks (from oktaflow.toml): sink file:/tmp/o.ocsf.ndjson: schema: unknown schema `osfc` (expected one of: ecs, elastic, ocsf)"
        );
        let bad = file.replace("schema = \"elastic\"", "schema = 3");
        let message = err(Some(&bad), &env, &Overrides::default());
        assert!(
            message.starts_with("sinks (from oktaflow.toml): schema: expected a schema name"),
            "{message}"
        );
        // Alerts have their own layout.
        let alerts =
            format!("{file}[detect]\nalerts = [\"file:/tmp/alerts.ndjson?schema=ocsf\"]\n");
        let message = err(Some(&alerts), &env, &Overrides::default());
        assert!(
            message.starts_with("detect.alerts (from oktaflow.toml): sink file:/tmp/alerts.ndjson: alerts have one layout"),
            "{message}"
        );
    }

    #[test]
    fn ocsf_is_checked_against_each_sinks_effective_schema_one_line_per_sink() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        // The source in OCSF, the stores given schemas of their own: accepted.
        let file = r#"
sinks = [
  "file:/tmp/o.ndjson",
  "elasticsearch:http://127.0.0.1:9200?schema=elastic",
  "clickhouse:http://127.0.0.1:8123?schema=ecs",
]
[source]
domain = "a.okta.com"
schema = "ocsf"
"#;
        let config = run(Some(file), &env, &Overrides::default()).unwrap();
        assert_eq!(config.sources[0].schema, oktaflow_normalize::Schema::Ocsf);

        // Inherited: one line per store, each naming its sink and the source's key.
        let inherited = file
            .replace("?schema=elastic", "")
            .replace("?schema=ecs", "");
        let message = err(Some(&inherited), &env, &Overrides::default());
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 2, "{message}");
        assert!(
            lines[0].starts_with(
                "source.schema (from oktaflow.toml [source] schema): schema \"ocsf\" cannot be \
                 written to the elasticsearch sink elasticsearch:http://127.0.0.1:9200 "
            ),
            "{message}"
        );
        assert!(
            lines[1].contains("the clickhouse sink clickhouse:http://127.0.0.1:8123 "),
            "{message}"
        );
        // A sink's own OCSF, whatever the source's schema.
        let own = "sinks = [\"opensearch:http://127.0.0.1:9200?schema=ocsf\", \"file:/tmp/o.ndjson?schema=ocsf\"]\n[source]\ndomain = \"a.okta.com\"\n";
        assert!(err(Some(own), &env, &Overrides::default()).starts_with(
            "sinks (from oktaflow.toml): schema \"ocsf\" cannot be written to the opensearch \
             sink opensearch:http://127.0.0.1:9200 "
        ));
    }

    #[test]
    fn the_schema_option_is_taken_out_of_a_spec() {
        for (spec, rest, schema) in [
            ("stdout", "stdout", None),
            ("stdout?schema=ocsf", "stdout", Some("ocsf")),
            (
                "file:x?rotate_size=1&schema=ecs",
                "file:x?rotate_size=1",
                Some("ecs"),
            ),
            (
                "file:x?schema=ecs&rotate_size=1",
                "file:x?rotate_size=1",
                Some("ecs"),
            ),
            ("http:https://c/i?a=1", "http:https://c/i?a=1", None),
            ("file:x?schema=", "file:x", Some("")),
        ] {
            assert_eq!(
                split_sink_schema(spec),
                (rest.to_string(), schema.map(str::to_string)),
                "{spec}"
            );
        }
    }

    #[test]
    fn full_file_parses() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let text = format!(
            r#"
state_dir = "/var/lib/oktaflow"
sinks = ["file:/var/log/okta.ndjson", "stdout"]

[source]
name = "prod"
domain = "acme.okta.com"
start_from = "2024-05-01T00:00:00Z"
interval = "2m"
page_size = 500
rate_limit_share = 0.25
request_timeout = 45
max_response_body = "128MiB"
backfill_concurrency = 4
proxy_url = "http://proxy.corp:3128"

[source.oauth]
client_id = "0oa123"
private_key_file = "{}"
key_id = "kid-1"

[source.tls]
verify_certificate = true
"#,
            key.display()
        );
        let config = run(Some(&text), &[], &Overrides::default()).unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/var/lib/oktaflow"));
        assert_eq!(
            config.sinks,
            vec![
                SinkSpec::File("/var/log/okta.ndjson".into()),
                SinkSpec::Stdout
            ]
        );
        let source = &config.sources[0];
        assert_eq!(source.name, "prod");
        assert_eq!(
            source.start_from,
            "2024-05-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(source.options.poll_interval, Duration::from_secs(120));
        assert_eq!(source.options.backfill_concurrency, 4);
        assert_eq!(source.client.page_size, 500);
        assert_eq!(source.client.rate_limit_share, 0.25);
        assert_eq!(source.client.request_timeout, Duration::from_secs(45));
        assert_eq!(source.client.max_response_body, 128 * 1024 * 1024);
        assert_eq!(
            source.client.proxy_url.as_deref(),
            Some("http://proxy.corp:3128")
        );
        match &source.client.auth {
            Auth::OAuth {
                client_id, key_id, ..
            } => {
                assert_eq!(client_id, "0oa123");
                assert_eq!(key_id.as_deref(), Some("kid-1"));
            }
            other => panic!("expected OAuth, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "[source]\ndomain = \"acme.okta.com\"\nintervall = \"60s\"\n";
        let message = err(
            Some(text),
            &[("OKTA_API_TOKEN", TOKEN)],
            &Overrides::default(),
        );
        assert!(
            message.starts_with("oktaflow.toml:3:1: unknown field `intervall`"),
            "{message}"
        );
        assert!(message.ends_with("; did you mean `interval`?"), "{message}");
        assert!(!message.contains('\n'));
        let message = err(
            Some("[source]\npage_size = \"many\"\n"),
            &[],
            &Overrides::default(),
        );
        assert!(message.starts_with("oktaflow.toml:2:13: "), "{message}");
    }

    #[test]
    fn precedence_flags_over_env_over_file() {
        let text =
            "[source]\ndomain = \"file.okta.com\"\ninterval = \"5m\"\napi_token = \"file-token\"\n";
        let from_file = run(Some(text), &[], &Overrides::default()).unwrap();
        assert_eq!(from_file.sources[0].client.org.label(), "file.okta.com");
        assert_eq!(
            from_file.sources[0].options.poll_interval,
            Duration::from_secs(300)
        );

        let env = [
            ("OKTAFLOW_DOMAIN", "env.okta.com"),
            ("OKTAFLOW_INTERVAL", "30s"),
            ("OKTA_API_TOKEN", TOKEN),
            ("OKTAFLOW_STATE_DIR", "/env/state"),
        ];
        let from_env = run(Some(text), &env, &Overrides::default()).unwrap();
        assert_eq!(from_env.sources[0].client.org.label(), "env.okta.com");
        assert_eq!(
            from_env.sources[0].options.poll_interval,
            Duration::from_secs(30)
        );
        assert_eq!(from_env.state_dir, PathBuf::from("/env/state"));
        assert!(
            matches!(&from_env.sources[0].client.auth, Auth::ApiToken(t) if t.expose() == TOKEN)
        );

        let flags = Overrides {
            okta_url: Some("http://127.0.0.1:8080".into()),
            interval: Some("15s".into()),
            state_dir: Some("/flag/state".into()),
            sinks: vec!["file:/tmp/out.ndjson".into()],
            start_from: Some("7d".into()),
            backfill_concurrency: Some(3),
            ..Overrides::default()
        };
        let from_flags = run(Some(text), &env, &flags).unwrap();
        let source = &from_flags.sources[0];
        assert_eq!(source.client.org.label(), "127.0.0.1:8080");
        assert_eq!(source.options.poll_interval, Duration::from_secs(15));
        assert_eq!(source.options.backfill_concurrency, 3);
        assert_eq!(source.start_from, now() - TimeDelta::days(7));
        assert_eq!(from_flags.state_dir, PathBuf::from("/flag/state"));
        assert_eq!(
            from_flags.sinks,
            vec![SinkSpec::File("/tmp/out.ndjson".into())]
        );
    }

    #[test]
    fn errors_name_the_key_and_origin() {
        let base = [
            ("OKTAFLOW_DOMAIN", "acme.okta.com"),
            ("OKTA_API_TOKEN", TOKEN),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut env = base.to_vec();
            env.push(extra);
            err(None, &env, &Overrides::default())
        };
        let m = with(("OKTAFLOW_INTERVAL", "5s"));
        assert_eq!(
            m,
            "source.interval (from OKTAFLOW_INTERVAL): `5s` is out of range; use 10s..1d"
        );
        let m = with(("OKTAFLOW_INTERVAL", "2d"));
        assert!(m.contains("out of range"), "{m}");
        let m = with(("OKTAFLOW_PAGE_SIZE", "5000"));
        assert!(
            m.starts_with("source.page_size (from OKTAFLOW_PAGE_SIZE): 5000"),
            "{m}"
        );
        let m = with(("OKTAFLOW_RATE_LIMIT_SHARE", "1.5"));
        assert!(m.starts_with("source.rate_limit_share"), "{m}");
        let m = with(("OKTAFLOW_BACKFILL_CONCURRENCY", "0"));
        assert!(m.starts_with("source.backfill_concurrency"), "{m}");
        let m = with(("OKTAFLOW_START_FROM", "yesterday"));
        assert!(
            m.starts_with("source.start_from (from OKTAFLOW_START_FROM)"),
            "{m}"
        );
        let m = with(("OKTAFLOW_START_FROM", "2099-01-01"));
        assert!(m.contains("in the future"), "{m}");
        let m = with(("OKTAFLOW_TLS_VERIFY_CERTIFICATE", "maybe"));
        assert!(
            m.starts_with("source.tls.verify_certificate (from OKTAFLOW_TLS_VERIFY_CERTIFICATE)"),
            "{m}"
        );
        let m = with(("OKTAFLOW_SINKS", "kafka:x"));
        assert!(
            m.starts_with("sinks (from OKTAFLOW_SINKS): unknown sink spec \"kafka:x\""),
            "{m}"
        );

        let m = err(
            None,
            &[
                ("OKTAFLOW_DOMAIN", "https://acme.okta.com"),
                ("OKTA_API_TOKEN", TOKEN),
            ],
            &Overrides::default(),
        );
        assert!(
            m.starts_with("source.domain (from OKTAFLOW_DOMAIN):") && m.contains("scheme"),
            "{m}"
        );
        let m = err(None, &[("OKTA_API_TOKEN", TOKEN)], &Overrides::default());
        assert!(m.contains("no Okta org configured"), "{m}");
        let m = err(
            None,
            &[("OKTAFLOW_DOMAIN", "acme.okta.com")],
            &Overrides::default(),
        );
        assert_eq!(
            m,
            "source.api_token (from defaults): no credentials; set OKTA_API_TOKEN, \
             api_token_file, or [source.oauth] client_id + private_key_file"
        );
        let text = "[[sources]]\nname = \"a\"\ndomain = \"acme.okta.com\"\n";
        let m = err(Some(text), &[], &Overrides::default());
        assert!(
            m.starts_with("sources[0].api_token (from defaults): no credentials; ")
                && m.ends_with(", or [sources.oauth] client_id + private_key_file"),
            "{m}"
        );
        let m = err(
            None,
            &base,
            &Overrides {
                okta_url: Some("http://10.0.0.1:80".into()),
                ..Overrides::default()
            },
        );
        assert!(
            m.starts_with("source.okta_url (from --okta-url):") && m.contains("loopback"),
            "{m}"
        );
        let m = err(
            None,
            &base,
            &Overrides {
                domain: Some("a.okta.com".into()),
                okta_url: Some("http://127.0.0.1:1".into()),
                ..Overrides::default()
            },
        );
        assert!(m.contains("both domain and okta_url"), "{m}");
    }

    #[test]
    fn token_and_oauth_conflict_and_token_files() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let text = format!(
            "[source]\ndomain = \"acme.okta.com\"\napi_token_file = \"{}\"\n",
            token_file.display()
        );
        let config = run(Some(&text), &[], &Overrides::default()).unwrap();
        assert!(matches!(&config.sources[0].client.auth, Auth::ApiToken(t) if t.expose() == TOKEN));

        let text =
            "[source]\ndomain = \"acme.okta.com\"\napi_token = \"a\"\napi_token_file = \"/x\"\n";
        assert!(err(Some(text), &[], &Overrides::default())
            .contains("both api_token and api_token_file"));

        let text = "[source]\ndomain = \"acme.okta.com\"\n[source.oauth]\nclient_id = \"0oa1\"\nprivate_key_file = \"/nonexistent/key.pem\"\n";
        let m = err(
            Some(text),
            &[("OKTA_API_TOKEN", TOKEN)],
            &Overrides::default(),
        );
        assert!(m.contains("both an API token and OAuth"), "{m}");
        let m = err(Some(text), &[], &Overrides::default());
        assert!(m.starts_with("source.oauth.private_key_file (from oktaflow.toml [source] oauth.private_key_file): cannot read /nonexistent/key.pem"), "{m}");

        let text =
            "[source]\ndomain = \"acme.okta.com\"\napi_token_file = \"/nonexistent/token\"\n";
        let m = err(Some(text), &[], &Overrides::default());
        assert!(
            m.starts_with(
                "source.api_token_file (from oktaflow.toml [source] api_token_file): cannot read"
            ),
            "{m}"
        );
    }

    #[test]
    fn many_sources_shape() {
        let text = r#"
sinks = ["stdout"]
[[sources]]
name = "prod"
domain = "acme.okta.com"
api_token = "a"
[[sources]]
name = "dev"
domain = "acme-dev.okta.com"
api_token = "b"
interval = "30s"
"#;
        let config = run(Some(text), &[], &Overrides::default()).unwrap();
        let names: Vec<_> = config.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["prod", "dev"]);
        assert_eq!(
            config.sources[1].options.poll_interval,
            Duration::from_secs(30)
        );

        let m = err(
            Some(text),
            &[("OKTAFLOW_DOMAIN", "x.okta.com")],
            &Overrides::default(),
        );
        assert!(m.contains("applies to a single source"), "{m}");
        let dup = text.replace("name = \"dev\"", "name = \"prod\"");
        assert!(
            err(Some(&dup), &[], &Overrides::default()).contains("duplicate source name `prod`")
        );
        let both = format!("{text}\n[source]\ndomain = \"x\"\n");
        assert!(
            err(Some(&both), &[], &Overrides::default()).contains("either [source] or [[sources]]")
        );
    }

    #[test]
    fn detect_reads_the_configured_sigma_rules() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let shipped =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
        let text = format!(
            "[source]\ndomain = \"acme.okta.com\"\n[detect]\nrules = [\"{}\"]\n",
            shipped.display()
        );
        let detect = run(Some(&text), &env, &Overrides::default())
            .unwrap()
            .detect
            .expect("on");
        assert_eq!(detect.rules.rules, vec![shipped]);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "title: broken\ndetection: [\n").unwrap();
        let text = format!(
            "[source]\ndomain = \"acme.okta.com\"\n[detect]\nrules = [\"{}\"]\n",
            bad.display()
        );
        let message = err(Some(&text), &env, &Overrides::default());
        assert!(
            message.starts_with("detect (from oktaflow.toml)"),
            "{message}"
        );
        assert!(message.contains("bad.yml"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }

    #[test]
    fn detect_is_on_by_default_tuned_routed_or_off() {
        let base = "[source]\ndomain = \"acme.okta.com\"\n";
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let config = run(Some(base), &env, &Overrides::default()).unwrap();
        let detect = config.detect.expect("on by default");
        assert_eq!(detect.rules, oktaflow_detect::RulesConfig::default());
        assert_eq!(detect.alerts, None, "beside the events");

        let text = format!(
            "{base}[detect]\nalerts = [\"file:/tmp/alerts.ndjson\"]\nmax_keys_per_rule = 10\n\
             [detect.brute_force_logins]\nthreshold = 8\nwindow = \"10m\"\n\
             [detect.api_key_revoked]\nenabled = false\n"
        );
        let detect = run(Some(&text), &env, &Overrides::default())
            .unwrap()
            .detect
            .unwrap();
        assert_eq!(detect.rules.max_keys_per_rule, 10);
        assert_eq!(detect.rules.brute_force_logins.threshold, 8);
        assert_eq!(
            detect.rules.brute_force_logins.window,
            Duration::from_secs(600)
        );
        assert!(!detect.rules.api_key_revoked.enabled);
        assert_eq!(
            detect.alerts,
            Some(vec![SinkSpec::File("/tmp/alerts.ndjson".into())])
        );

        let off = format!("{base}[detect]\nenabled = false\n");
        assert!(run(Some(&off), &env, &Overrides::default())
            .unwrap()
            .detect
            .is_none());
    }

    #[test]
    fn bad_detect_keys_are_refused_in_one_line() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let base = "[source]\ndomain = \"acme.okta.com\"\n[detect]\n";
        let cases = [
            (
                "[detect.brute_force_login]\nthreshold = 3\n",
                "detect (from oktaflow.toml): unknown field `brute_force_login`",
            ),
            (
                "[detect.brute_force_logins]\nthreshold = 0\n",
                "okta.brute_force_logins",
            ),
            (
                "[detect.brute_force_logins]\nwindow = 900\n",
                "needs a unit",
            ),
            ("enabled = \"yes\"\n", "detect.enabled (from oktaflow.toml)"),
            (
                "alerts = [\"kafka:x\"]\n",
                "detect.alerts (from oktaflow.toml)",
            ),
            (
                "rules = [\"/nonexistent/sigma-rules\"]\n",
                "/nonexistent/sigma-rules",
            ),
        ];
        for (extra, expected) in cases {
            let message = err(Some(&format!("{base}{extra}")), &env, &Overrides::default());
            assert!(message.contains(expected), "{extra}: {message}");
            assert_eq!(message.lines().count(), 1, "{message}");
        }
        let message = err(
            Some(&format!("{base}[detect.brute_force_login]\n")),
            &env,
            &Overrides::default(),
        );
        assert!(
            message.contains("did you mean `brute_force_logins`?"),
            "{message}"
        );
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../../oktaflow.example.toml");
        let config = run(
            Some(text),
            &[("OKTA_API_TOKEN", TOKEN)],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.sources[0].client.org.label(), "acme.okta.com");
        assert_eq!(config.sources[0].start_from, now() - TimeDelta::days(7));
        assert_eq!(
            config.sinks,
            vec![SinkSpec::File("/var/log/oktaflow/okta-ecs.ndjson".into())]
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 1w "), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("60").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn secrets_never_in_debug_or_errors() {
        let config = run(
            None,
            &[
                ("OKTAFLOW_DOMAIN", "acme.okta.com"),
                ("OKTA_API_TOKEN", TOKEN),
            ],
            &Overrides::default(),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("[redacted]"));
        let message = err(
            None,
            &[
                ("OKTAFLOW_DOMAIN", "acme.okta.com"),
                ("OKTA_API_TOKEN", "has space secretpart"),
            ],
            &Overrides::default(),
        );
        assert!(
            message.contains("api_token") && !message.contains("secretpart"),
            "{message}"
        );
    }

    #[test]
    fn silence_alert_and_metrics_listen_are_read_and_checked() {
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let text = "[metrics]\nlisten = \"127.0.0.1:9464\"\n\n[[sources]]\nname = \"a\"\ndomain = \"a.okta.com\"\nsilence_alert = \"2h\"\n\n[[sources]]\nname = \"b\"\ndomain = \"b.okta.com\"\nsilence_alert = \"off\"\n\n[[sources]]\nname = \"c\"\ndomain = \"c.okta.com\"\n";
        let text = text.replace("domain", "api_token = \"t\"\ndomain");
        let config = run(Some(&text), &[], &Overrides::default()).unwrap();
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        let alerts: Vec<_> = config.sources.iter().map(|s| s.silence_alert).collect();
        assert_eq!(
            alerts,
            [
                Some(Duration::from_secs(7200)),
                None,
                Some(DEFAULT_SILENCE_ALERT)
            ]
        );

        let short = "[source]\ndomain = \"a.okta.com\"\nsilence_alert = \"500ms\"\n";
        let message = run(Some(short), &env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "source.silence_alert (from oktaflow.toml [source] silence_alert): `500ms` is too short; use at least 1s, or \"off\""
        );
        let bad = "[metrics]\nlisten = \"localhost\"\n[source]\ndomain = \"a.okta.com\"\n";
        let message = run(Some(bad), &env, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            message
                .starts_with("metrics.listen (from oktaflow.toml): `localhost` is not an address"),
            "{message}"
        );
    }

    #[test]
    fn output_retry_limit_is_a_duration_or_off_from_the_file_or_the_environment() {
        let source = "[source]\ndomain = \"a.okta.com\"\n";
        let env = [("OKTA_API_TOKEN", TOKEN)];
        let limit = |text: &str, env: &[(&str, &str)]| {
            run(Some(text), env, &Overrides::default()).map(|c| c.output_retry_limit)
        };
        assert_eq!(limit(source, &env).unwrap(), None, "not set");
        let file = format!("output_retry_limit = \"2m\"\n{source}");
        assert_eq!(
            limit(&file, &env).unwrap(),
            Some(Some(Duration::from_secs(120)))
        );
        let off = [env[0], ("OKTAFLOW_OUTPUT_RETRY_LIMIT", "off")];
        assert_eq!(limit(&file, &off).unwrap(), Some(None), "env over file");
        let bad = format!("output_retry_limit = \"soon\"\n{source}");
        let message = limit(&bad, &env).unwrap_err().to_string();
        assert!(
            message.starts_with("output_retry_limit (from oktaflow.toml): "),
            "{message}"
        );
    }

    #[test]
    fn every_bad_value_is_reported_each_on_one_line() {
        let text = "[source]\ndomain = \"acme.okta.com\"\ninterval = \"5s\"\npage_size = 5000\nrate_limit_share = 1.5\n";
        let error = run(
            Some(text),
            &[("OKTA_API_TOKEN", TOKEN)],
            &Overrides::default(),
        )
        .unwrap_err();
        let problems: Vec<String> = error.problems().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            problems,
            [
                "source.page_size (from oktaflow.toml [source] page_size): 5000 is out of range; use 1..=1000",
                "source.rate_limit_share (from oktaflow.toml [source] rate_limit_share): 1.5 is out of range; use a fraction in (0, 1], e.g. 0.5",
                "source.interval (from oktaflow.toml [source] interval): `5s` is out of range; use 10s..1d",
            ]
        );
        assert_eq!(error.to_string(), problems.join("\n"));

        // Problems of the org, the credentials and the other values, from every layer, at once.
        let env = [
            ("OKTAFLOW_BACKFILL_CONCURRENCY", "99"),
            ("OKTAFLOW_TLS_VERIFY_CERTIFICATE", "maybe"),
        ];
        let flags = Overrides {
            start_from: Some("yesterday".into()),
            ..Overrides::default()
        };
        let error = run(None, &env, &flags).unwrap_err();
        let keys: Vec<String> = error
            .problems()
            .iter()
            .map(|e| {
                e.to_string()
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(
            keys,
            [
                "source.domain",
                "source.api_token",
                "source.tls.verify_certificate",
                "source.start_from",
                "source.backfill_concurrency",
            ]
        );
    }

    #[test]
    fn one_name_per_setting_and_old_names_still_read() {
        assert_eq!(env_var("interval"), "OKTAFLOW_INTERVAL");
        assert_eq!(env_var("tls.ca_file"), "OKTAFLOW_TLS_CA_FILE");
        assert_eq!(env_var("oauth.client_id"), "OKTAFLOW_OAUTH_CLIENT_ID");
        assert_eq!(env_var("api_token"), "OKTA_API_TOKEN");

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nabc\n").unwrap();
        let key = key.display().to_string();
        for (client_id, key_file) in [
            (
                "OKTAFLOW_OAUTH_CLIENT_ID",
                "OKTAFLOW_OAUTH_PRIVATE_KEY_FILE",
            ),
            ("OKTAFLOW_CLIENT_ID", "OKTAFLOW_PRIVATE_KEY_FILE"),
        ] {
            let env = [
                ("OKTAFLOW_DOMAIN", "acme.okta.com"),
                (client_id, "0oa1"),
                (key_file, key.as_str()),
                ("OKTAFLOW_TLS_VERIFY_CERTIFICATE", "no"),
                ("OKTAFLOW_METRICS_LISTEN", "127.0.0.1:9464"),
                ("OKTAFLOW_SILENCE_ALERT", "off"),
            ];
            let config = run(None, &env, &Overrides::default()).unwrap();
            let source = &config.sources[0];
            assert!(
                matches!(&source.client.auth, Auth::OAuth { client_id, .. } if client_id == "0oa1")
            );
            assert!(!source.client.tls.verify_certificate);
            assert_eq!(source.silence_alert, None);
            assert_eq!(
                config.metrics_listen,
                Some("127.0.0.1:9464".parse().unwrap())
            );
        }

        // A higher layer's okta_url replaces the file's domain (one slot).
        let text = "[source]\ndomain = \"acme.okta.com\"\napi_token = \"t\"\n";
        let env = [("OKTAFLOW_OKTA_URL", "http://127.0.0.1:8080")];
        let config = run(Some(text), &env, &Overrides::default()).unwrap();
        assert_eq!(config.sources[0].client.org.label(), "127.0.0.1:8080");
    }
}

//! The configuration: a TOML file, `OKTAFLOW_*` environment variables and command-line flags,
//! merged (flags > environment > file > defaults) and validated into a [`RunConfig`].
//!
//! Every error is one line naming the key (and, for the file, its line and column) and where
//! the bad value came from. Token and key files are read here; their contents are wrapped in
//! [`Secret`] at once.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions, TlsConfig};
use serde::Deserialize;

/// Default poll interval once caught up.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Shortest allowed poll interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Longest allowed poll interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
/// How far back the first run starts by default.
pub const DEFAULT_START_BACK: Duration = Duration::from_secs(86_400);
/// Largest backfill concurrency.
pub const MAX_BACKFILL_CONCURRENCY: usize = 16;
/// Default state directory (relative to the working directory).
pub const DEFAULT_STATE_DIR: &str = "oktaflow-state";
/// Default source name (names the checkpoint file).
pub const DEFAULT_SOURCE_NAME: &str = "okta";
/// Default silence alert: no event from a source for this long is an error.
pub const DEFAULT_SILENCE_ALERT: Duration = Duration::from_secs(86_400);

/// The environment variables read, with the key each one sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("OKTAFLOW_DOMAIN", "domain"),
    ("OKTAFLOW_OKTA_URL", "okta_url"),
    ("OKTA_API_TOKEN", "api_token"),
    ("OKTAFLOW_API_TOKEN_FILE", "api_token_file"),
    ("OKTAFLOW_CLIENT_ID", "oauth.client_id"),
    ("OKTAFLOW_PRIVATE_KEY_FILE", "oauth.private_key_file"),
    ("OKTAFLOW_KEY_ID", "oauth.key_id"),
    ("OKTAFLOW_START_FROM", "start_from"),
    ("OKTAFLOW_INTERVAL", "interval"),
    ("OKTAFLOW_PAGE_SIZE", "page_size"),
    ("OKTAFLOW_RATE_LIMIT_SHARE", "rate_limit_share"),
    ("OKTAFLOW_REQUEST_TIMEOUT", "request_timeout"),
    ("OKTAFLOW_BACKFILL_CONCURRENCY", "backfill_concurrency"),
    ("OKTAFLOW_PROXY_URL", "proxy_url"),
    ("OKTAFLOW_TLS_CA_FILE", "tls.ca_file"),
    ("OKTAFLOW_TLS_CERT_FILE", "tls.cert_file"),
    ("OKTAFLOW_TLS_KEY_FILE", "tls.key_file"),
    ("OKTAFLOW_TLS_VERIFY_CERTIFICATE", "tls.verify_certificate"),
    ("OKTAFLOW_STATE_DIR", "state_dir"),
    ("OKTAFLOW_SINKS", "sinks"),
];

/// Values given on the command line (already split by clap, not yet validated).
#[derive(Debug, Clone, Default)]
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
    /// `--poll-interval`.
    pub poll_interval: Option<String>,
    /// `--backfill-concurrency`.
    pub backfill_concurrency: Option<usize>,
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
}

/// The validated configuration of `oktaflow run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where checkpoints live.
    pub state_dir: PathBuf,
    /// Where events go.
    pub sinks: Vec<SinkSpec>,
    /// The orgs to read (one for now; `[[sources]]` may list several).
    pub sources: Vec<SourceConfig>,
    /// `[metrics] listen`: where `/metrics`, `/health` and `/ready` are served (off if unset).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// A configuration problem; `Display` is one line naming the key and where it came from.
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
    let file = match (path, text.as_deref()) {
        (Some(path), Some(text)) => Some((path, text)),
        _ => None,
    };
    resolve(
        file,
        &|name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()),
        overrides,
        Utc::now(),
    )
}

/// [`load`] with the file text, environment lookup and clock given (for tests and `check`).
pub fn resolve(
    file: Option<(&Path, &str)>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
    now: DateTime<Utc>,
) -> Result<RunConfig, ConfigError> {
    let (raw, file_origin) = match file {
        Some((path, text)) => (parse_file(path, text)?, format!("{}", path.display())),
        None => (RawFile::default(), "defaults".to_string()),
    };
    let mut sources: Vec<(String, RawSource)> = match (raw.source, raw.sources) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "sources",
                &file_origin,
                "use either [source] or [[sources]], not both",
            ))
        }
        (Some(source), None) => vec![("source".to_string(), source)],
        (None, Some(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("sources[{i}]"), s))
            .collect(),
        (None, None) => vec![("source".to_string(), RawSource::default())],
    };
    if sources.is_empty() {
        return Err(invalid(
            "sources",
            &file_origin,
            "the list is empty; add a [[sources]] entry",
        ));
    }

    let layers = Layers::collect(env, overrides);
    if sources.len() > 1 {
        if let Some((name, _)) = layers.source_values.iter().find(|(_, v)| v.is_some()) {
            return Err(invalid(
                name,
                name,
                "applies to a single source; with several [[sources]] set it in each entry",
            ));
        }
    }

    let state_dir = match (
        &overrides.state_dir,
        env("OKTAFLOW_STATE_DIR"),
        raw.state_dir,
    ) {
        (Some(dir), _, _) => dir.clone(),
        (None, Some(dir), _) => PathBuf::from(dir),
        (None, None, Some(dir)) => dir,
        (None, None, None) => PathBuf::from(DEFAULT_STATE_DIR),
    };
    let (sink_texts, sink_origin) = if !overrides.sinks.is_empty() {
        (
            overrides
                .sinks
                .iter()
                .cloned()
                .map(SinkEntry::Spec)
                .collect(),
            "--sink".to_string(),
        )
    } else if let Some(list) = env("OKTAFLOW_SINKS") {
        (
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .map(SinkEntry::Spec)
                .collect(),
            "OKTAFLOW_SINKS".to_string(),
        )
    } else if let Some(list) = raw.sinks {
        (list, file_origin.clone())
    } else {
        (
            vec![SinkEntry::Spec("stdout".to_string())],
            "defaults".to_string(),
        )
    };
    let sinks = parse_sinks(sink_texts, &sink_origin)?;

    let mut built = Vec::with_capacity(sources.len());
    let mut names = HashSet::new();
    let single = sources.len() == 1;
    for (section, source) in sources.drain(..) {
        let merged = layers.apply(section, source, &file_origin, single);
        let config = build_source(merged, now)?;
        if !names.insert(config.name.clone()) {
            return Err(invalid(
                &format!("{}.name", config.name),
                &file_origin,
                &format!(
                    "duplicate source name `{}`; give each source a unique name",
                    config.name
                ),
            ));
        }
        built.push(config);
    }
    let metrics_listen = match raw.metrics.and_then(|m| m.listen) {
        Some(text) => Some(text.trim().parse().map_err(|_| {
            invalid(
                "metrics.listen",
                &file_origin,
                &format!("`{text}` is not an address; use IP:PORT, e.g. \"127.0.0.1:9464\""),
            )
        })?),
        None => None,
    };
    Ok(RunConfig {
        state_dir,
        sinks,
        sources: built,
        metrics_listen,
    })
}

fn invalid(key: &str, origin: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The file

/// A duration or count written as a string (`"60s"`) or an integer (seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DurationText {
    Seconds(u64),
    Text(String),
}

impl DurationText {
    fn into_text(self) -> String {
        match self {
            DurationText::Seconds(s) => format!("{s}s"),
            DurationText::Text(t) => t,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    state_dir: Option<PathBuf>,
    sinks: Option<Vec<SinkEntry>>,
    source: Option<RawSource>,
    sources: Option<Vec<RawSource>>,
    metrics: Option<RawMetrics>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Option<String>,
    domain: Option<String>,
    okta_url: Option<String>,
    api_token: Option<String>,
    api_token_file: Option<PathBuf>,
    oauth: Option<RawOAuth>,
    start_from: Option<String>,
    interval: Option<DurationText>,
    page_size: Option<u32>,
    rate_limit_share: Option<f64>,
    request_timeout: Option<DurationText>,
    backfill_concurrency: Option<usize>,
    proxy_url: Option<String>,
    tls: Option<RawTls>,
    silence_alert: Option<DurationText>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth {
    client_id: Option<String>,
    private_key_file: Option<PathBuf>,
    key_id: Option<String>,
    scopes: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
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

fn parse_file(path: &Path, text: &str) -> Result<RawFile, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: error
                .message()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        }
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------------
// Layers: file < environment < flags

/// A value and where it came from.
#[derive(Debug, Clone)]
struct Sourced<T> {
    value: T,
    origin: String,
}

/// Where the org is: a domain or a base URL (one slot: a higher layer replaces both).
#[derive(Debug, Clone)]
enum Place {
    Domain(String),
    Url(String),
    /// Both given in the same layer: an error.
    Both,
}

/// The token slot: inline or from a file.
#[derive(Debug, Clone)]
enum TokenFrom {
    Inline(Secret),
    File(PathBuf),
    /// Both given in the same layer: an error.
    Both,
}

/// One source's values after merging, each with its origin.
#[derive(Debug, Default)]
struct Merged {
    section: String,
    name: Option<Sourced<String>>,
    place: Option<Sourced<Place>>,
    token: Option<Sourced<TokenFrom>>,
    oauth: Option<Sourced<RawOAuth>>,
    start_from: Option<Sourced<String>>,
    interval: Option<Sourced<String>>,
    page_size: Option<Sourced<String>>,
    rate_limit_share: Option<Sourced<String>>,
    request_timeout: Option<Sourced<String>>,
    backfill_concurrency: Option<Sourced<String>>,
    proxy_url: Option<Sourced<String>>,
    silence_alert: Option<Sourced<String>>,
    tls: RawTls,
    tls_origin: BTreeMap<&'static str, String>,
    /// An unparsable `OKTAFLOW_TLS_VERIFY_CERTIFICATE` value.
    tls_verify_unparsable: Option<String>,
}

/// The source-level values of the environment and flags.
struct Layers {
    /// (name, value) of each source-level variable or flag, in precedence order (lowest first).
    source_values: Vec<(String, Option<String>)>,
}

impl Layers {
    fn collect(env: &dyn Fn(&str) -> Option<String>, flags: &Overrides) -> Layers {
        let mut values: Vec<(String, Option<String>)> = ENV_VARS
            .iter()
            .filter(|(name, _)| !matches!(*name, "OKTAFLOW_STATE_DIR" | "OKTAFLOW_SINKS"))
            .map(|(name, _)| (name.to_string(), env(name)))
            .collect();
        values.push(("--domain".into(), flags.domain.clone()));
        values.push(("--okta-url".into(), flags.okta_url.clone()));
        values.push(("--start-from".into(), flags.start_from.clone()));
        values.push(("--poll-interval".into(), flags.poll_interval.clone()));
        values.push((
            "--backfill-concurrency".into(),
            flags.backfill_concurrency.map(|k| k.to_string()),
        ));
        Layers {
            source_values: values,
        }
    }

    fn get(&self, name: &str) -> Option<Sourced<String>> {
        self.source_values
            .iter()
            .find(|(n, v)| n == name && v.is_some())
            .and_then(|(n, v)| {
                v.clone().map(|value| Sourced {
                    value,
                    origin: n.clone(),
                })
            })
    }

    /// The file's section overlaid with environment then flags (only for a single source).
    fn apply(&self, section: String, raw: RawSource, file: &str, single: bool) -> Merged {
        let at = |key: &str| format!("{file} [{section}] {key}");
        let from_file = |value: String, key: &str| Sourced {
            value,
            origin: at(key),
        };
        let mut m = Merged {
            section: section.clone(),
            ..Merged::default()
        };
        m.name = raw.name.map(|v| from_file(v, "name"));
        m.place = match (raw.domain, raw.okta_url) {
            (Some(d), None) => Some(Sourced {
                value: Place::Domain(d),
                origin: at("domain"),
            }),
            (None, Some(u)) => Some(Sourced {
                value: Place::Url(u),
                origin: at("okta_url"),
            }),
            (Some(_), Some(_)) => Some(Sourced {
                value: Place::Both,
                origin: at("domain"),
            }),
            (None, None) => None,
        };
        m.token = match (raw.api_token, raw.api_token_file) {
            (Some(t), None) => Some(Sourced {
                value: TokenFrom::Inline(Secret::new(t)),
                origin: at("api_token"),
            }),
            (None, Some(p)) => Some(Sourced {
                value: TokenFrom::File(p),
                origin: at("api_token_file"),
            }),
            (Some(_), Some(_)) => Some(Sourced {
                value: TokenFrom::Both,
                origin: at("api_token"),
            }),
            (None, None) => None,
        };
        m.oauth = raw.oauth.map(|o| Sourced {
            value: o,
            origin: at("oauth"),
        });
        m.start_from = raw.start_from.map(|v| from_file(v, "start_from"));
        m.interval = raw.interval.map(|v| from_file(v.into_text(), "interval"));
        m.page_size = raw.page_size.map(|v| from_file(v.to_string(), "page_size"));
        m.rate_limit_share = raw
            .rate_limit_share
            .map(|v| from_file(v.to_string(), "rate_limit_share"));
        m.request_timeout = raw
            .request_timeout
            .map(|v| from_file(v.into_text(), "request_timeout"));
        m.backfill_concurrency = raw
            .backfill_concurrency
            .map(|v| from_file(v.to_string(), "backfill_concurrency"));
        m.proxy_url = raw.proxy_url.map(|v| from_file(v, "proxy_url"));
        m.silence_alert = raw
            .silence_alert
            .map(|v| from_file(v.into_text(), "silence_alert"));
        if let Some(tls) = raw.tls {
            for (key, set) in [
                ("ca_file", tls.ca_file.is_some()),
                ("cert_file", tls.cert_file.is_some()),
                ("key_file", tls.key_file.is_some()),
                ("verify_certificate", tls.verify_certificate.is_some()),
            ] {
                if set {
                    m.tls_origin.insert(key, at(&format!("tls.{key}")));
                }
            }
            m.tls = tls;
        }
        if !single {
            return m;
        }

        // Environment, then flags: each present value replaces the lower layer's.
        for (domain, url) in [
            ("OKTAFLOW_DOMAIN", "OKTAFLOW_OKTA_URL"),
            ("--domain", "--okta-url"),
        ] {
            match (self.get(domain), self.get(url)) {
                (Some(d), None) => {
                    m.place = Some(Sourced {
                        value: Place::Domain(d.value),
                        origin: d.origin,
                    })
                }
                (None, Some(u)) => {
                    m.place = Some(Sourced {
                        value: Place::Url(u.value),
                        origin: u.origin,
                    })
                }
                (Some(d), Some(u)) => {
                    m.place = Some(Sourced {
                        value: Place::Both,
                        origin: format!("{} and {}", d.origin, u.origin),
                    })
                }
                (None, None) => {}
            }
        }
        match (
            self.get("OKTA_API_TOKEN"),
            self.get("OKTAFLOW_API_TOKEN_FILE"),
        ) {
            (Some(t), None) => {
                m.token = Some(Sourced {
                    value: TokenFrom::Inline(Secret::new(t.value)),
                    origin: t.origin,
                })
            }
            (None, Some(f)) => {
                m.token = Some(Sourced {
                    value: TokenFrom::File(PathBuf::from(f.value)),
                    origin: f.origin,
                })
            }
            (Some(t), Some(f)) => {
                m.token = Some(Sourced {
                    value: TokenFrom::Both,
                    origin: format!("{} and {}", t.origin, f.origin),
                })
            }
            (None, None) => {}
        }
        let client_id = self.get("OKTAFLOW_CLIENT_ID");
        let key_file = self.get("OKTAFLOW_PRIVATE_KEY_FILE");
        let key_id = self.get("OKTAFLOW_KEY_ID");
        if client_id.is_some() || key_file.is_some() || key_id.is_some() {
            let origin = [&client_id, &key_file, &key_id]
                .iter()
                .find_map(|v| v.as_ref().map(|v| v.origin.clone()))
                .unwrap_or_default();
            let mut oauth = m.oauth.take().map(|o| o.value).unwrap_or_default();
            if let Some(v) = client_id {
                oauth.client_id = Some(v.value);
            }
            if let Some(v) = key_file {
                oauth.private_key_file = Some(PathBuf::from(v.value));
            }
            if let Some(v) = key_id {
                oauth.key_id = Some(v.value);
            }
            m.oauth = Some(Sourced {
                value: oauth,
                origin,
            });
        }
        for (names, slot) in [
            (["OKTAFLOW_START_FROM", "--start-from"], &mut m.start_from),
            (["OKTAFLOW_INTERVAL", "--poll-interval"], &mut m.interval),
            (["OKTAFLOW_PAGE_SIZE", ""], &mut m.page_size),
            (["OKTAFLOW_RATE_LIMIT_SHARE", ""], &mut m.rate_limit_share),
            (["OKTAFLOW_REQUEST_TIMEOUT", ""], &mut m.request_timeout),
            (
                ["OKTAFLOW_BACKFILL_CONCURRENCY", "--backfill-concurrency"],
                &mut m.backfill_concurrency,
            ),
            (["OKTAFLOW_PROXY_URL", ""], &mut m.proxy_url),
        ] {
            for name in names {
                if let Some(v) = self.get(name) {
                    *slot = Some(v);
                }
            }
        }
        for (name, key) in [
            ("OKTAFLOW_TLS_CA_FILE", "ca_file"),
            ("OKTAFLOW_TLS_CERT_FILE", "cert_file"),
            ("OKTAFLOW_TLS_KEY_FILE", "key_file"),
            ("OKTAFLOW_TLS_VERIFY_CERTIFICATE", "verify_certificate"),
        ] {
            let Some(v) = self.get(name) else { continue };
            match key {
                "ca_file" => m.tls.ca_file = Some(PathBuf::from(&v.value)),
                "cert_file" => m.tls.cert_file = Some(PathBuf::from(&v.value)),
                "key_file" => m.tls.key_file = Some(PathBuf::from(&v.value)),
                _ => {
                    m.tls.verify_certificate = parse_bool(&v.value);
                    if m.tls.verify_certificate.is_none() {
                        m.tls_verify_unparsable = Some(v.value.clone());
                    }
                }
            }
            m.tls_origin.insert(key, v.origin);
        }
        m
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn build_source(m: Merged, now: DateTime<Utc>) -> Result<SourceConfig, ConfigError> {
    let section = m.section.clone();
    let key = |k: &str| format!("{section}.{k}");
    let bad = |k: &str, origin: &str, reason: String| invalid(&key(k), origin, &reason);

    let name = match &m.name {
        Some(n) => {
            let valid = !n.value.is_empty()
                && !n.value.starts_with('.')
                && n.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                return Err(bad(
                    "name",
                    &n.origin,
                    format!(
                        "`{}` is not a valid name; use letters, digits, '.', '_' or '-'",
                        n.value
                    ),
                ));
            }
            n.value.clone()
        }
        None => DEFAULT_SOURCE_NAME.to_string(),
    };

    let org = match &m.place {
        None => return Err(bad(
            "domain",
            "defaults",
            "no Okta org configured; set domain = \"acme.okta.com\", OKTAFLOW_DOMAIN or --domain"
                .into(),
        )),
        Some(Sourced {
            value: Place::Both,
            origin,
        }) => {
            return Err(bad(
                "domain",
                origin,
                "both domain and okta_url are set; keep one".into(),
            ))
        }
        Some(Sourced {
            value: Place::Domain(d),
            origin,
        }) => OrgUrl::from_domain(d).map_err(|e| bad("domain", origin, e.reason))?,
        Some(Sourced {
            value: Place::Url(u),
            origin,
        }) => OrgUrl::from_base_url(u).map_err(|e| bad("okta_url", origin, e.reason))?,
    };

    let auth = match (&m.token, &m.oauth) {
        (Some(token), Some(oauth)) => {
            return Err(bad(
                "api_token",
                &format!("{} and {}", token.origin, oauth.origin),
                "both an API token and OAuth are configured; keep one".into(),
            ))
        }
        (None, None) => {
            return Err(bad(
                "api_token",
                "defaults",
                "no credentials; set OKTA_API_TOKEN, api_token_file, or [oauth] client_id + private_key_file".into(),
            ))
        }
        (Some(token), None) => match &token.value {
            TokenFrom::Inline(secret) => Auth::ApiToken(secret.clone()),
            TokenFrom::Both => {
                return Err(bad(
                    "api_token",
                    &token.origin,
                    "both api_token and api_token_file are set; keep one".into(),
                ))
            }
            TokenFrom::File(path) => {
                let text = read_secret_file(path)
                    .map_err(|reason| bad("api_token_file", &token.origin, reason))?;
                Auth::ApiToken(Secret::new(text.expose().trim().to_string()))
            }
        },
        (None, Some(oauth)) => {
            let o = &oauth.value;
            let client_id = o.client_id.clone().filter(|c| !c.trim().is_empty()).ok_or_else(|| {
                bad("oauth.client_id", &oauth.origin, "missing; the service app's client id".into())
            })?;
            let key_path = o.private_key_file.clone().ok_or_else(|| {
                bad(
                    "oauth.private_key_file",
                    &oauth.origin,
                    "missing; the PEM private key registered with the service app".into(),
                )
            })?;
            let private_key = read_secret_file(&key_path)
                .map_err(|reason| bad("oauth.private_key_file", &oauth.origin, reason))?;
            Auth::OAuth {
                client_id,
                private_key,
                key_id: o.key_id.clone(),
                scopes: o.scopes.clone().unwrap_or_default(),
            }
        }
    };

    let mut client = ClientConfig::new(org, auth);
    if let Some(v) = &m.page_size {
        client.page_size = v.value.trim().parse().map_err(|_| {
            bad(
                "page_size",
                &v.origin,
                format!("`{}` is not a whole number", v.value),
            )
        })?;
    }
    if let Some(v) = &m.rate_limit_share {
        client.rate_limit_share = v.value.trim().parse().map_err(|_| {
            bad(
                "rate_limit_share",
                &v.origin,
                format!("`{}` is not a number", v.value),
            )
        })?;
    }
    if let Some(v) = &m.request_timeout {
        client.request_timeout =
            parse_duration(&v.value).map_err(|reason| bad("request_timeout", &v.origin, reason))?;
    }
    client.proxy_url = m.proxy_url.as_ref().map(|v| v.value.clone());
    client.tls = build_tls(&m, &key)?;
    if let Err(error) = client.validate() {
        let origin = field_origin(&m, error.field);
        return Err(bad(error.field, &origin, error.reason));
    }

    let start_from = match &m.start_from {
        Some(v) => {
            parse_start(&v.value, now).map_err(|reason| bad("start_from", &v.origin, reason))?
        }
        None => now - TimeDelta::from_std(DEFAULT_START_BACK).unwrap_or(TimeDelta::days(1)),
    };

    let mut options = SourceOptions::default();
    if let Some(v) = &m.interval {
        let interval =
            parse_duration(&v.value).map_err(|reason| bad("interval", &v.origin, reason))?;
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            return Err(bad(
                "interval",
                &v.origin,
                format!("`{}` is out of range; use 10s..1d", v.value),
            ));
        }
        options.poll_interval = interval;
    } else {
        options.poll_interval = DEFAULT_INTERVAL;
    }
    if let Some(v) = &m.backfill_concurrency {
        let k: usize = v.value.trim().parse().map_err(|_| {
            bad(
                "backfill_concurrency",
                &v.origin,
                format!("`{}` is not a whole number", v.value),
            )
        })?;
        if !(1..=MAX_BACKFILL_CONCURRENCY).contains(&k) {
            return Err(bad(
                "backfill_concurrency",
                &v.origin,
                format!("{k} is out of range; use 1..=16"),
            ));
        }
        options.backfill_concurrency = k;
    }
    let silence_alert = match &m.silence_alert {
        None => Some(DEFAULT_SILENCE_ALERT),
        Some(v) if v.value.trim().eq_ignore_ascii_case("off") => None,
        Some(v) => {
            let limit = parse_duration(&v.value)
                .map_err(|reason| bad("silence_alert", &v.origin, reason))?;
            if limit < Duration::from_secs(1) {
                return Err(bad(
                    "silence_alert",
                    &v.origin,
                    format!("`{}` is too short; use at least 1s, or \"off\"", v.value),
                ));
            }
            Some(limit)
        }
    };
    Ok(SourceConfig {
        name,
        client,
        start_from,
        options,
        silence_alert,
    })
}

fn field_origin(m: &Merged, field: &str) -> String {
    let origin = match field {
        "page_size" => m.page_size.as_ref().map(|v| v.origin.clone()),
        "rate_limit_share" => m.rate_limit_share.as_ref().map(|v| v.origin.clone()),
        "request_timeout" => m.request_timeout.as_ref().map(|v| v.origin.clone()),
        "proxy_url" => m.proxy_url.as_ref().map(|v| v.origin.clone()),
        "api_token" => m.token.as_ref().map(|v| v.origin.clone()),
        f if f.starts_with("oauth") => m.oauth.as_ref().map(|v| v.origin.clone()),
        f if f.starts_with("tls.") => m.tls_origin.get(&f[4..]).cloned(),
        _ => None,
    };
    origin.unwrap_or_else(|| "defaults".to_string())
}

fn build_tls(m: &Merged, key: &dyn Fn(&str) -> String) -> Result<TlsConfig, ConfigError> {
    let origin = |k: &str| {
        m.tls_origin
            .get(k)
            .cloned()
            .unwrap_or_else(|| "defaults".into())
    };
    if let Some(bad_value) = &m.tls_verify_unparsable {
        return Err(invalid(
            &key("tls.verify_certificate"),
            &origin("verify_certificate"),
            &format!("`{bad_value}` is not true or false"),
        ));
    }
    let read = |path: &PathBuf, k: &str| {
        std::fs::read_to_string(path).map_err(|e| {
            invalid(
                &key(&format!("tls.{k}")),
                &origin(k),
                &format!("cannot read {}: {e}", path.display()),
            )
        })
    };
    // The client builder reads the files; they are checked here so that the error names
    // where the setting came from.
    if let Some(path) = &m.tls.ca_file {
        read(path, "ca_file")?;
    }
    if let Some(path) = &m.tls.cert_file {
        read(path, "cert_file")?;
    }
    if let Some(path) = &m.tls.key_file {
        read_secret_file(path)
            .map_err(|reason| invalid(&key("tls.key_file"), &origin("key_file"), &reason))?;
    }
    Ok(TlsConfig {
        ca_file: m.tls.ca_file.clone(),
        cert_file: m.tls.cert_file.clone(),
        key_file: m.tls.key_file.clone(),
        verify_certificate: m.tls.verify_certificate.unwrap_or(true),
    })
}

/// Reads a file holding a secret; the error never includes the contents.
fn read_secret_file(path: &Path) -> Result<Secret, String> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(format!("{} is empty", path.display())),
        Ok(text) => Ok(Secret::new(text)),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// One sink in the configuration: a spec string (`"file:PATH"`, `"elasticsearch:URL?..."`)
/// or a table (`[[sinks]]` with a `kind` key); a `sinks` array may mix both.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SinkEntry {
    /// A spec, as on the command line.
    Spec(String),
    /// A table, read by [`SinkSpec::from_table`] (kept as a TOML table here
    /// so that its error names the bad key instead of "did not match any variant").
    Table(toml::Table),
}

fn parse_sinks(entries: Vec<SinkEntry>, origin: &str) -> Result<Vec<SinkSpec>, ConfigError> {
    let mut sinks = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let (label, parsed) = match entry {
            SinkEntry::Spec(text) => {
                let text = text.trim().to_string();
                let parsed = oktaflow_sink::parse_sink_spec(&text).map_err(|e| e.to_string());
                (
                    format!("`{}`", text.split('?').next().unwrap_or(&text)),
                    parsed,
                )
            }
            SinkEntry::Table(table) => {
                let parsed = SinkSpec::from_table(table);
                (format!("sinks[{index}]"), parsed)
            }
        };
        let sink = parsed.map_err(|reason| invalid("sinks", origin, &reason))?;
        if sinks.contains(&sink) {
            return Err(invalid(
                "sinks",
                origin,
                &format!("{label} is listed twice"),
            ));
        }
        sinks.push(sink);
    }
    if sinks.is_empty() {
        return Err(invalid(
            "sinks",
            origin,
            "no sink; use file:PATH, stdout or a store such as elasticsearch:URL",
        ));
    }
    Ok(sinks)
}

/// Parses `500ms`, `10s`, `2m`, `1h30m`, `7d`, `1w` (a sequence of number+unit); shared with
/// the sinks' options (`rotate_interval`), so every duration of the configuration reads alike.
pub use oktaflow_plumbing::parse_duration;

/// Parses `start_from`: RFC 3339 (`2024-05-01T00:00:00Z`), a date (`2024-05-01`, midnight UTC)
/// or a duration back from now (`7d`).
pub fn parse_start(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let trimmed = text.trim();
    let start = if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        t.with_timezone(&Utc)
    } else if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        date.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("`{trimmed}` is not a valid date"))?
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) && !trimmed.contains(['-', ':']) {
        let back = parse_duration(trimmed)?;
        let back = TimeDelta::from_std(back).map_err(|_| format!("`{trimmed}` is too far back"))?;
        now.checked_sub_signed(back)
            .ok_or_else(|| format!("`{trimmed}` is too far back"))?
    } else {
        return Err(format!(
            "`{trimmed}` is neither a time (2024-05-01T00:00:00Z, 2024-05-01) nor a duration back from now (7d)"
        ));
    };
    if start > now + TimeDelta::minutes(1) {
        return Err(format!("`{trimmed}` is in the future"));
    }
    Ok(start)
}

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
            poll_interval: Some("15s".into()),
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
        assert!(m.contains("no credentials"), "{m}");
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
        assert!(m.starts_with("source.oauth.private_key_file (from oktaflow.toml [source] oauth): cannot read /nonexistent/key.pem"), "{m}");

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
    fn start_points() {
        assert_eq!(parse_start("7d", now()), Ok(now() - TimeDelta::days(7)));
        assert_eq!(
            parse_start("2024-05-01", now()),
            Ok("2024-05-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_start("2024-05-01T02:00:00+02:00", now()),
            Ok("2024-05-01T00:00:00Z".parse().unwrap())
        );
        assert!(parse_start("2024-13-01", now()).is_err());
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
}

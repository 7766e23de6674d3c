//! [`ElasticsearchConfig`]: the settings of an Elasticsearch/OpenSearch sink.

use std::path::PathBuf;
use std::time::Duration;

use oktaflow_plumbing::units::de;
use oktaflow_plumbing::{Secret, SecretRef, TlsConfig};
use reqwest::Url;
use serde::Deserialize;

use crate::config::SinkDefaults;
use crate::transport;
use crate::{BatchLimits, BatchOptions, RequestOptions, SinkConfigError};

/// The default target: the data stream of the Elastic Okta integration's naming
/// scheme (`logs-<dataset>-<namespace>`).
pub const DEFAULT_INDEX: &str = "logs-okta.system-default";

/// Settings of an `elasticsearch:` / `opensearch:` sink. The same keys are used in a
/// `[[sinks]]` TOML table and as URL query options of a spec
/// (`elasticsearch:https://es:9200?api_key_env=ES_API_KEY&batch.max_docs=500`; a dotted
/// option is a key of a table: `tls.ca_file`, `request.timeout`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Base URL of the cluster, e.g. `https://es.corp:9200` (a path prefix is kept).
    #[serde(deserialize_with = "transport::deserialize_base_url")]
    pub url: String,
    /// Data stream (or index) to write to.
    pub index: String,
    /// User for basic authentication (with `password_env` or `password_file`).
    pub user: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding an API key (the base64 `encoded` form), sent as
    /// `Authorization: ApiKey ...`.
    pub api_key_env: Option<String>,
    /// File holding the API key.
    pub api_key_file: Option<PathBuf>,
    /// `[sinks.tls]`: extra CA, client certificate, verification.
    pub tls: TlsConfig,
    /// `[sinks.batch]`: documents (default 1000) and uncompressed bytes (default 5 MB) per
    /// bulk request.
    pub batch: BatchOptions,
    /// `[sinks.request]`: timeout of one request (default 60 s) and gzip (default true).
    pub request: RequestOptions,
    /// Bulk requests in flight at once (default 2).
    pub concurrency: usize,
    /// How many times documents that failed with 429/5xx are resent before the
    /// batch fails with a retryable error (default 5).
    pub max_item_retries: u32,
    /// Ceiling of the first delay before resending failed documents, doubling up to 10 s
    /// (full jitter; default `"200ms"`).
    #[serde(deserialize_with = "de::duration")]
    pub retry_delay: Duration,
}

/// Defaults of Elasticsearch and OpenSearch: 1000 documents and 5 MB per bulk request, 60 s, gzip.
pub const DEFAULTS: SinkDefaults =
    SinkDefaults::new(1000, 5_000_000, Duration::from_secs(60), true);

impl Default for ElasticsearchConfig {
    fn default() -> Self {
        ElasticsearchConfig {
            url: String::new(),
            index: DEFAULT_INDEX.to_owned(),
            user: None,
            password_env: None,
            password_file: None,
            api_key_env: None,
            api_key_file: None,
            tls: TlsConfig::default(),
            batch: BatchOptions::default(),
            request: RequestOptions::default(),
            concurrency: 2,
            max_item_retries: 5,
            retry_delay: Duration::from_millis(200),
        }
    }
}

/// A validated configuration with its secrets read.
pub(crate) struct Checked {
    pub(crate) url: Url,
    pub(crate) password: Option<Secret>,
    pub(crate) api_key: Option<Secret>,
}

impl ElasticsearchConfig {
    /// Checks every setting and reads the secrets (nothing is sent).
    pub(crate) fn check(&self) -> Result<Checked, SinkConfigError> {
        if self.url.is_empty() {
            return Err(SinkConfigError::invalid(
                "url",
                "is required, e.g. https://es.corp:9200",
            ));
        }
        let url = transport::parse_base_url(&self.url)?;
        if self.index.is_empty()
            || self.index.starts_with(['_', '-', '+'])
            || self
                .index
                .chars()
                .any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(c))
        {
            return Err(SinkConfigError::invalid(
                "index",
                format!(
                    "`{}` is not a valid index or data stream name (lowercase, no \
                     \\ / * ? \" < > | space , # :, not starting with _ - +)",
                    self.index
                ),
            ));
        }
        self.limits().validate()?;
        if !(1..=16).contains(&self.concurrency) {
            return Err(SinkConfigError::invalid("concurrency", "must be 1 to 16"));
        }
        self.request.timeout(DEFAULTS.request)?;
        let password = SecretRef::from_pair(
            "password_env",
            self.password_env.as_deref(),
            self.password_file.as_deref(),
        )?
        .map(|r| r.resolve("password"))
        .transpose()?;
        let api_key = SecretRef::from_pair(
            "api_key_env",
            self.api_key_env.as_deref(),
            self.api_key_file.as_deref(),
        )?
        .map(|r| r.resolve("api_key"))
        .transpose()?;
        Ok(Checked {
            url,
            password,
            api_key,
        })
    }

    pub(crate) fn limits(&self) -> BatchLimits {
        self.batch.limits(DEFAULTS.batch)
    }
}

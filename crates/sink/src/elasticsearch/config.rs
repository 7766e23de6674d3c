//! [`ElasticsearchConfig`]: the settings of an Elasticsearch/OpenSearch sink.

use std::path::PathBuf;

use reqwest::Url;
use serde::Deserialize;

use crate::transport;
use crate::{BatchLimits, Secret, SecretRef, SinkConfigError, TlsOptions};

/// The default target: the data stream of the Elastic Okta integration's naming
/// scheme (`logs-<dataset>-<namespace>`).
pub const DEFAULT_INDEX: &str = "logs-okta.system-default";

/// Settings of an `elasticsearch:` / `opensearch:` sink. The same keys are used in a
/// `[[sinks]]` TOML table and as URL query options of a spec
/// (`elasticsearch:https://es:9200?api_key_env=ES_API_KEY&max_docs=500`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Base URL of the cluster, e.g. `https://es.corp:9200` (a path prefix is kept).
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
    /// Extra trusted CA certificates (PEM bundle).
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    pub tls_cert_file: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    pub tls_key_file: Option<PathBuf>,
    /// Verify the server certificate (default true).
    pub tls_verify_certificate: bool,
    /// Documents per bulk request (default 1000).
    pub max_docs: usize,
    /// Uncompressed bytes per bulk request (default 5 MB).
    pub max_bytes: usize,
    /// Bulk requests in flight at once (default 2).
    pub concurrency: usize,
    /// Gzip request bodies (default true).
    pub compression: bool,
    /// Timeout of one request in seconds (default 60).
    pub request_timeout_secs: u64,
    /// How many times documents that failed with 429/5xx are resent before the
    /// batch fails with a retryable error (default 5).
    pub max_item_retries: u32,
    /// First delay before resending failed documents, doubling each time (default 200).
    pub retry_delay_ms: u64,
}

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
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_verify_certificate: true,
            max_docs: 1000,
            max_bytes: 5_000_000,
            concurrency: 2,
            compression: true,
            request_timeout_secs: 60,
            max_item_retries: 5,
            retry_delay_ms: 200,
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
        if self.request_timeout_secs == 0 {
            return Err(SinkConfigError::invalid(
                "request_timeout_secs",
                "must be at least 1",
            ));
        }
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

    pub(crate) fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_file: self.tls_ca_file.clone(),
            cert_file: self.tls_cert_file.clone(),
            key_file: self.tls_key_file.clone(),
            verify_certificate: self.tls_verify_certificate,
        }
    }

    pub(crate) fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_docs: self.max_docs,
            max_bytes: self.max_bytes,
        }
    }
}

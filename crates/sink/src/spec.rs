//! [`SinkSpec`], the one sink configuration type: a spec as given on the command line
//! (`file:PATH`, `stdout`, `elasticsearch:URL?opt=val&...`, ...) and a `[[sinks]]` table
//! of the TOML configuration (`kind = "..."` and the same keys) both read into it.

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::query;

use crate::clickhouse::{ClickHouseConfig, ClickHouseSink};
use crate::elasticsearch::{ElasticsearchConfig, ElasticsearchSink, Flavor};
use crate::http::{HttpConfig, HttpMode, HttpSink};
use crate::{ExistingFile, FileConfig, FileSink, Sink, SinkConfigError, StdoutSink};

/// One configured sink: parsed from a spec string ([`parse_sink_spec`], `FromStr`) or
/// deserialized from a `[[sinks]]` table, selected by its `kind` key; the other keys are
/// the settings of that kind, the same names as the spec's URL query options (a table key
/// such as `[sinks.tls] ca_file` is the option `tls.ca_file`). Unknown keys are refused,
/// and a bad `url` is refused while the table is read.
///
/// ```toml
/// [[sinks]]
/// kind = "elasticsearch"
/// url = "https://es.corp:9200"
/// api_key_env = "ES_API_KEY"
/// [sinks.tls]
/// ca_file = "/etc/oktaflow/es-ca.pem"
/// [sinks.request]
/// timeout = "30s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkSpec {
    /// `stdout`: NDJSON on standard output ([`StdoutSink`]).
    Stdout,
    /// `file:PATH[?options]`: NDJSON appended to a file, optionally rotated ([`FileSink`]).
    File(FileConfig),
    /// `elasticsearch:URL[?options]`: the `_bulk` API ([`ElasticsearchSink`]).
    Elasticsearch(ElasticsearchConfig),
    /// `opensearch:URL[?options]`: the same for OpenSearch.
    OpenSearch(ElasticsearchConfig),
    /// `clickhouse:URL[?options]`: the HTTP interface ([`ClickHouseSink`]).
    ClickHouse(ClickHouseConfig),
    /// `http:URL[?options]`: NDJSON POSTs ([`HttpSink`]).
    Http(HttpConfig),
    /// `splunk:URL[?options]`: Splunk HTTP Event Collector ([`HttpSink`]).
    Splunk(HttpConfig),
}

/// Why a sink spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkSpecError {
    /// `file:` without a path.
    #[error("sink spec \"file:\" needs a path, e.g. file:okta.ndjson")]
    MissingPath,
    /// A kind of sink oktaflow does not know.
    #[error(
        "unknown sink spec \"{0}\": expected file:PATH, stdout, elasticsearch:URL, \
         opensearch:URL, clickhouse:URL, http:URL or splunk:URL"
    )]
    Unknown(String),
    /// The URL or an option of a network sink is wrong.
    #[error(transparent)]
    Config(#[from] SinkConfigError),
}

/// Parses a sink spec: `stdout`, `file:PATH`, or `KIND:URL` with options as URL query
/// parameters (the keys of the `[[sinks]]` table of that kind), e.g.
/// `elasticsearch:https://es:9200?index=logs-okta.system-prod&api_key_env=ES_API_KEY` or
/// `file:okta.ndjson?rotate_size=256MiB&rotate_keep=10`. In a file spec everything after
/// the first `?` is options, so a path that contains `?` must be given in a `[[sinks]]`
/// table.
pub fn parse_sink_spec(spec: &str) -> Result<SinkSpec, SinkSpecError> {
    if spec == "stdout" {
        return Ok(SinkSpec::Stdout);
    }
    let Some((kind, rest)) = spec.split_once(':') else {
        return Err(SinkSpecError::Unknown(spec.to_owned()));
    };
    match kind {
        "file" => Ok(SinkSpec::File(file_options(rest)?)),
        "elasticsearch" => Ok(SinkSpec::Elasticsearch(url_options(spec, rest)?)),
        "opensearch" => Ok(SinkSpec::OpenSearch(url_options(spec, rest)?)),
        "clickhouse" => Ok(SinkSpec::ClickHouse(url_options(spec, rest)?)),
        "http" if rest.starts_with("//") => Err(SinkSpecError::Unknown(spec.to_owned())),
        "http" => Ok(SinkSpec::Http(url_options(spec, rest)?)),
        "splunk" => Ok(SinkSpec::Splunk(url_options(spec, rest)?)),
        _ => Err(SinkSpecError::Unknown(spec.to_owned())),
    }
}

/// Parses `PATH[?k=v&...]` into a file sink configuration.
fn file_options(rest: &str) -> Result<FileConfig, SinkSpecError> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(SinkSpecError::MissingPath);
    }
    if query.is_empty() {
        return Ok(FileConfig::new(path));
    }
    Ok(
        query::from_query(&[("path", path)], query).map_err(|e| SinkConfigError::Query {
            spec: format!("file:{path}"),
            reason: e.to_string(),
        })?,
    )
}

/// Deserializes `URL?k=v&...` into a sink configuration whose `url` is `URL`.
fn url_options<T: DeserializeOwned>(spec: &str, rest: &str) -> Result<T, SinkConfigError> {
    let (url, query) = rest.split_once('?').unwrap_or((rest, ""));
    crate::transport::parse_base_url(url)?;
    query::from_query(&[("url", url)], query).map_err(|e| SinkConfigError::Query {
        spec: spec.split('?').next().unwrap_or(spec).to_owned(),
        reason: renamed_hint(&e.to_string()),
    })
}

/// Options renamed when the network sinks took the source's vocabulary (the `tls`, `batch`
/// and `request` tables); an old name is refused with its new one.
const RENAMED: &[(&str, &str)] = &[
    ("tls_ca_file", "tls.ca_file"),
    ("tls_cert_file", "tls.cert_file"),
    ("tls_key_file", "tls.key_file"),
    ("tls_verify_certificate", "tls.verify_certificate"),
    ("max_docs", "batch.max_docs"),
    ("max_bytes", "batch.max_bytes"),
    ("compression", "request.compression"),
    (
        "request_timeout_secs",
        "request.timeout (a duration such as \"30s\")",
    ),
    (
        "retry_delay_ms",
        "retry_delay (a duration such as \"200ms\")",
    ),
];

/// An "unknown field" message for a renamed option, with the new name added.
pub(crate) fn renamed_hint(message: &str) -> String {
    for (old, new) in RENAMED {
        if message.contains(&format!("unknown field `{old}`")) {
            let head = message.split(", expected").next().unwrap_or(message);
            return format!("{head}: renamed to {new}");
        }
    }
    message.to_owned()
}

impl FromStr for SinkSpec {
    type Err = SinkSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_sink_spec(s)
    }
}

impl fmt::Display for SinkSpec {
    /// The spec's kind and location, without options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::Stdout => f.write_str("stdout"),
            SinkSpec::File(c) => write!(f, "file:{}", c.path.display()),
            SinkSpec::Elasticsearch(c) => write!(f, "elasticsearch:{}", c.url),
            SinkSpec::OpenSearch(c) => write!(f, "opensearch:{}", c.url),
            SinkSpec::ClickHouse(c) => write!(f, "clickhouse:{}", c.url),
            SinkSpec::Http(c) => write!(f, "http:{}", c.url),
            SinkSpec::Splunk(c) => write!(f, "splunk:{}", c.url),
        }
    }
}

impl SinkSpec {
    /// Builds the sink: for network sinks the configuration is validated, secrets and
    /// TLS files are read and the HTTP client is built, but nothing is sent yet (that
    /// happens in [`Sink::recover`] and [`Sink::write_batch`]). `existing` applies to
    /// file sinks only. A configuration problem is an `io::Error` of kind
    /// `InvalidInput` whose message names the setting (its inner error is a
    /// [`SinkConfigError`]).
    pub fn build(&self, existing: ExistingFile) -> std::io::Result<Box<dyn Sink>> {
        Ok(match self {
            SinkSpec::Stdout => Box::new(StdoutSink::new()),
            SinkSpec::File(c) => {
                Box::new(FileSink::new(&c.path, existing)?.with_rotation(c.rotation))
            }
            SinkSpec::Elasticsearch(config) => {
                Box::new(ElasticsearchSink::new(Flavor::Elasticsearch, config)?)
            }
            SinkSpec::OpenSearch(config) => {
                Box::new(ElasticsearchSink::new(Flavor::OpenSearch, config)?)
            }
            SinkSpec::ClickHouse(config) => Box::new(ClickHouseSink::new(config)?),
            SinkSpec::Http(config) => Box::new(HttpSink::new(HttpMode::Ndjson, config)?),
            SinkSpec::Splunk(config) => Box::new(HttpSink::new(HttpMode::SplunkHec, config)?),
        })
    }
}

impl SinkSpec {
    /// Reads one `[[sinks]]` table (any `serde` deserializer: a TOML table, JSON). The error
    /// is one line naming the key (a renamed key is told its new name).
    pub fn from_table<'de, D: serde::Deserializer<'de>>(table: D) -> Result<SinkSpec, String> {
        SinkSpec::deserialize(table)
            .map_err(|e| renamed_hint(&e.to_string().trim().replace('\n', " ")))
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
    fn file_specs_and_tables_take_rotation_options() {
        let spec = parse_sink_spec(
            "file:/var/log/okta.ndjson?rotate_size=256MiB&rotate_interval=1h&rotate_keep=7",
        )
        .unwrap();
        let SinkSpec::File(c) = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(c.path, std::path::Path::new("/var/log/okta.ndjson"));
        assert_eq!(
            c.rotation,
            crate::Rotation {
                size: Some(256 << 20),
                interval: Some(std::time::Duration::from_secs(3600)),
                keep: Some(7),
            }
        );
        assert_eq!(spec.to_string(), "file:/var/log/okta.ndjson");
        assert_eq!(
            parse_sink_spec("file:okta.ndjson?"),
            Ok(SinkSpec::File("okta.ndjson".into()))
        );
        let err = parse_sink_spec("file:okta.ndjson?rotate_size=huge").unwrap_err();
        assert_eq!(
            err.to_string(),
            "options of sink spec \"file:okta.ndjson\": rotate_size: `huge` is not a size; \
             use e.g. 256MiB, 1GB or a number of bytes"
        );
        let err = parse_sink_spec("file:okta.ndjson?rotate=1h").unwrap_err();
        assert!(err.to_string().contains("unknown field `rotate`"), "{err}");
        assert_eq!(
            parse_sink_spec("file:?rotate_size=1MiB"),
            Err(SinkSpecError::MissingPath)
        );

        let table: SinkSpec = serde_json::from_value(serde_json::json!({
            "kind": "file", "path": "out.ndjson", "rotate_size": 1024, "rotate_interval": "1d"
        }))
        .unwrap();
        let SinkSpec::File(c) = table else {
            panic!("not a file")
        };
        assert_eq!(c.rotation.size, Some(1024));
        assert_eq!(
            c.rotation.interval,
            Some(std::time::Duration::from_secs(86_400))
        );
        let err = serde_json::from_value::<SinkSpec>(serde_json::json!({
            "kind": "file", "path": "out.ndjson", "rotate_keep": 3
        }))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("rotate_keep: needs rotate_size or rotate_interval"),
            "{err}"
        );
    }

    #[test]
    fn parses_network_specs_with_query_options() {
        let spec = parse_sink_spec(
            "elasticsearch:https://es.corp:9200?index=logs-okta.system-prod&api_key_env=ES_KEY&batch.max_docs=500&request.compression=false&request.timeout=30s&tls.verify_certificate=false",
        )
        .unwrap();
        let SinkSpec::Elasticsearch(c) = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(c.url, "https://es.corp:9200");
        assert_eq!(c.index, "logs-okta.system-prod");
        assert_eq!(c.api_key_env.as_deref(), Some("ES_KEY"));
        assert_eq!(c.batch.max_docs, Some(500));
        assert_eq!(c.request.compression, Some(false));
        assert_eq!(c.request.timeout, Some(std::time::Duration::from_secs(30)));
        assert!(!c.tls.verify_certificate);
        assert_eq!(c.concurrency, ElasticsearchConfig::default().concurrency);
        assert_eq!(spec.to_string(), "elasticsearch:https://es.corp:9200");
        assert!(matches!(
            parse_sink_spec("opensearch:http://127.0.0.1:9200"),
            Ok(SinkSpec::OpenSearch(_))
        ));
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
        let err = parse_sink_spec("elasticsearch:https://es:9200?max_doc=5").unwrap_err();
        assert!(err.to_string().contains("unknown field `max_doc`"), "{err}");
        let err = parse_sink_spec("elasticsearch:https://es:9200?batch.max_doc=5").unwrap_err();
        assert!(
            err.to_string().contains("batch: unknown field `max_doc`"),
            "{err}"
        );
        let err = parse_sink_spec("elasticsearch:https://es:9200?tls_ca_file=/ca.pem").unwrap_err();
        assert_eq!(
            err.to_string(),
            "options of sink spec \"elasticsearch:https://es:9200\": unknown field \
             `tls_ca_file`: renamed to tls.ca_file"
        );
        let err = parse_sink_spec("elasticsearch:https://es:9200?batch.max_docs=many").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("options of sink spec \"elasticsearch:https://es:9200\""),
            "{err}"
        );
        let err = parse_sink_spec("elasticsearch:es:9200").unwrap_err();
        assert!(err.to_string().starts_with("url: "), "{err}");
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            "stdout",
            "file:relative/out.ndjson",
            "opensearch:http://127.0.0.1:9200",
        ] {
            assert_eq!(parse_sink_spec(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn builds_named_sinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let sink = SinkSpec::File(path.clone().into())
            .build(ExistingFile::Refuse)
            .unwrap();
        assert_eq!(sink.name(), format!("file:{}", path.display()));
        let stdout = SinkSpec::Stdout.build(ExistingFile::Refuse).unwrap();
        assert_eq!(stdout.name(), "stdout");
        let es = parse_sink_spec("elasticsearch:http://127.0.0.1:9200/")
            .unwrap()
            .build(ExistingFile::Refuse)
            .unwrap();
        assert_eq!(
            es.name(),
            "elasticsearch:http://127.0.0.1:9200/logs-okta.system-default"
        );
    }

    #[test]
    fn build_reports_configuration_problems_by_setting() {
        let spec = parse_sink_spec(
            "elasticsearch:http://127.0.0.1:9200?user=elastic&password_env=OKTAFLOW_SINK_TEST_UNSET",
        )
        .unwrap();
        let err = spec.build(ExistingFile::Refuse).err().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "password: environment variable OKTAFLOW_SINK_TEST_UNSET is not set (or not UTF-8)"
        );
    }

    #[test]
    fn toml_style_tables_convert_to_specs() {
        let table: SinkSpec = serde_json::from_value(serde_json::json!({
            "kind": "elasticsearch",
            "url": "https://es.corp:9200",
            "api_key_env": "ES_API_KEY",
            "batch": {"max_bytes": 2_000_000},
            "request": {"timeout": "2m"},
            "tls": {"ca_file": "/etc/ca.pem"}
        }))
        .unwrap();
        let SinkSpec::Elasticsearch(c) = table else {
            panic!("not elasticsearch")
        };
        assert_eq!(c.batch.max_bytes, Some(2_000_000));
        assert_eq!(c.request.timeout, Some(std::time::Duration::from_secs(120)));
        assert_eq!(
            c.tls.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        let file: SinkSpec =
            serde_json::from_value(serde_json::json!({"kind": "file", "path": "out.ndjson"}))
                .unwrap();
        assert_eq!(file, SinkSpec::File("out.ndjson".into()));
        let bad_url = SinkSpec::from_table(serde_json::json!({
            "kind": "clickhouse", "url": "ftp://ch"
        }))
        .unwrap_err();
        assert!(bad_url.starts_with("url: "), "{bad_url}");
        let old = SinkSpec::from_table(serde_json::json!({
            "kind": "http", "url": "https://collector", "request_timeout_secs": 5
        }))
        .unwrap_err();
        assert_eq!(
            old,
            "unknown field `request_timeout_secs`: renamed to request.timeout (a duration such \
             as \"30s\")"
        );
        let typo = serde_json::from_value::<SinkSpec>(serde_json::json!({
            "kind": "elasticsearch", "url": "https://es:9200", "indx": "x"
        }));
        assert!(typo
            .unwrap_err()
            .to_string()
            .contains("unknown field `indx`"));
    }

    #[test]
    fn toml_tables_with_nested_tls_batch_and_request_tables() {
        #[derive(Deserialize)]
        struct File {
            sinks: Vec<toml::Table>,
        }
        let file: File = toml::from_str(
            r#"
            [[sinks]]
            kind = "elasticsearch"
            url = "https://es.corp:9200"
            api_key_env = "ES_API_KEY"
            retry_delay = "1s"
            [sinks.tls]
            ca_file = "/etc/oktaflow/es-ca.pem"
            verify_certificate = false
            [sinks.batch]
            max_docs = 1000
            max_bytes = "5MB"
            [sinks.request]
            timeout = "60s"
            compression = true

            [[sinks]]
            kind = "clickhouse"
            url = "http://127.0.0.1:8123"
            batch = { max_bytes = 1048576 }
            [sinks.tls]
            verify = false
            "#,
        )
        .unwrap();
        let mut tables = file.sinks.into_iter();
        let SinkSpec::Elasticsearch(es) = SinkSpec::from_table(tables.next().unwrap()).unwrap()
        else {
            panic!("not elasticsearch")
        };
        assert!(!es.tls.verify_certificate);
        assert_eq!(es.batch.max_bytes, Some(5_000_000));
        assert_eq!(es.request.timeout, Some(std::time::Duration::from_secs(60)));
        assert_eq!(es.retry_delay, std::time::Duration::from_secs(1));
        let err = SinkSpec::from_table(tables.next().unwrap()).unwrap_err();
        assert!(err.starts_with("unknown field `verify`"), "{err}");
    }
}

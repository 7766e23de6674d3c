//! [`HttpSink`]: NDJSON POSTed to any HTTP endpoint, or events sent to a Splunk HTTP
//! Event Collector (HEC).
//!
//! * **NDJSON mode** (`http:URL`): each request body is documents, one per line,
//!   optionally gzip-compressed, with the configured headers (and an
//!   `Authorization` value read from a secret).
//! * **Splunk HEC mode** (`splunk:URL`): `POST /services/collector/event` with
//!   `Authorization: Splunk <token>`; each document is wrapped in an envelope
//!   `{"time": <@timestamp as epoch seconds with microseconds>, "host", "source",
//!   "sourcetype": "okta:system", "index", "event": <document>}`. When HEC refuses an
//!   event (400 with `invalid-event-number` N), the events before it were indexed:
//!   event N is returned in [`Ack::rejected`] with HEC's message and the ones after
//!   it are sent again.
//! * A plain collector that answers **400 or 422** refuses the request's content: the
//!   sink takes it that nothing of that request was stored, splits it in halves until
//!   it has the refused documents, returns those in [`Ack::rejected`] with the
//!   collector's answer and delivers the others (a collector that stores part of a
//!   request it answers 400 gets that part again: at least once).
//!
//! A batch is cut into requests of `max_docs` / `max_bytes`, sent one after the other.
//! When one fails with a retryable error (store down, 429, 5xx), the sink remembers
//! how far the batch got; the pipeline's retry of the same batch resumes with the
//! first request that was not answered, so an outage does not resend what the
//! collector already acknowledged.
//!
//! Neither protocol lets the sender make a write idempotent (HEC indexer
//! acknowledgements are not used), so across a crash, or a request whose answer was
//! lost, this sink is **at least once**, like stdout: what is resent is at most the
//! batch that was being written and not yet checkpointed. Searches deduplicate on
//! `event.id` (`| dedup event.id` in Splunk). The position is `null`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE,
};
use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::config::SinkDefaults;
use crate::transport;
use crate::{
    Ack, BatchLimits, BatchOptions, Document, Rejected, RequestOptions, Sink, SinkConfigError,
    SinkError,
};
use oktaflow_plumbing::{SecretRef, TlsConfig};

/// How documents are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMode {
    /// One document per line (`http:` specs).
    Ndjson,
    /// Splunk HEC event envelopes (`splunk:` specs).
    SplunkHec,
}

impl HttpMode {
    /// `http` or `splunk`: the spec prefix and the `kind` of a `[[sinks]]` table.
    pub fn kind(self) -> &'static str {
        match self {
            HttpMode::Ndjson => "http",
            HttpMode::SplunkHec => "splunk",
        }
    }
}

/// The HEC endpoint appended to a `splunk:` URL that has no path.
pub const HEC_EVENT_PATH: &str = "/services/collector/event";

/// Settings of an `http:` or `splunk:` sink (keys of a `[[sinks]]` table with
/// `kind = "http"` / `"splunk"`, or URL query options: `headers.NAME=VALUE`, `tls.ca_file`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Endpoint URL. For Splunk, the HEC base URL (`https://hec:8088`): the path
    /// `/services/collector/event` is added when the URL has none.
    #[serde(deserialize_with = "transport::deserialize_base_url")]
    pub url: String,
    /// Extra request headers, e.g. `headers = { "X-Source" = "oktaflow" }` (spec option
    /// `headers.X-Source=oktaflow`).
    pub headers: BTreeMap<String, String>,
    /// NDJSON mode: environment variable holding the whole `Authorization` value
    /// (e.g. `Bearer abc...`).
    pub auth_header_env: Option<String>,
    /// NDJSON mode: file holding the `Authorization` value.
    pub auth_header_file: Option<PathBuf>,
    /// Splunk: environment variable holding the HEC token.
    pub token_env: Option<String>,
    /// Splunk: file holding the HEC token.
    pub token_file: Option<PathBuf>,
    /// Splunk: the index (the token's default index when absent).
    pub index: Option<String>,
    /// Splunk: the sourcetype (default `okta:system`).
    pub sourcetype: String,
    /// Splunk: the source (HEC's default when absent).
    pub source: Option<String>,
    /// Splunk: the host field (HEC's default when absent).
    pub host: Option<String>,
    /// `[sinks.tls]`: extra CA, client certificate, verification.
    pub tls: TlsConfig,
    /// `[sinks.batch]`: documents (default 500) and uncompressed bytes (default 1 MB, HEC's
    /// default limit) per request.
    pub batch: BatchOptions,
    /// `[sinks.request]`: timeout of one request (default 30 s) and gzip (default false:
    /// not every receiver accepts it).
    pub request: RequestOptions,
}

/// Defaults of the HTTP and Splunk sinks: 500 documents and 1 MB per request (HEC's default limit), 30 s, no gzip (not every receiver accepts it).
pub const DEFAULTS: SinkDefaults =
    SinkDefaults::new(500, 1_000_000, Duration::from_secs(30), false);

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            url: String::new(),
            headers: BTreeMap::new(),
            auth_header_env: None,
            auth_header_file: None,
            token_env: None,
            token_file: None,
            index: None,
            sourcetype: "okta:system".into(),
            source: None,
            host: None,
            tls: TlsConfig::default(),
            batch: BatchOptions::default(),
            request: RequestOptions::default(),
        }
    }
}

/// Delivers documents to an HTTP endpoint or a Splunk HEC.
pub struct HttpSink {
    name: String,
    mode: HttpMode,
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
    envelope: Envelope,
    limits: BatchLimits,
    compression: bool,
    /// How far the last batch got before a write failed (see [`Progress`]).
    progress: Option<Progress>,
}

/// How far a batch got before a request of it failed, so that the pipeline's retry of
/// the same batch resumes after what the collector already acknowledged.
#[derive(Debug, Default)]
struct Progress {
    /// The batch's event ids (empty until a write fails): a retry must be the same batch.
    ids: Vec<String>,
    /// Encoded documents (in batch order) already stored or refused.
    done: usize,
    /// Documents the collector refused so far.
    refused: Vec<Rejected>,
}

/// The collector's answer to one request.
enum Answer {
    /// Every document was stored.
    Stored,
    /// HEC's `invalid-event-number`: the documents before it were indexed, it was
    /// refused for this reason, the ones after it were dropped.
    Invalid(usize, String),
    /// A plain collector refused the request's content (400/422); nothing was stored.
    Refused(String),
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // HeaderMap's Debug prints sensitive values as "Sensitive".
        f.debug_struct("HttpSink")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("headers", &self.headers)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The constant fields of a HEC envelope.
#[derive(Debug, Clone, serde::Serialize)]
struct Envelope {
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    sourcetype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
}

impl HttpSink {
    /// Validates `config` for `mode`, reads the secret and TLS files, builds the client.
    pub fn new(mode: HttpMode, config: &HttpConfig) -> Result<HttpSink, SinkConfigError> {
        if config.url.is_empty() {
            return Err(SinkConfigError::invalid("url", "is required"));
        }
        let mut url = transport::parse_base_url(&config.url)?;
        let limits = config.batch.limits(DEFAULTS.batch);
        limits.validate()?;
        let timeout = config.request.timeout(DEFAULTS.request)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                SinkConfigError::invalid("headers", format!("`{name}` is not a header name"))
            })?;
            if name == AUTHORIZATION {
                return Err(SinkConfigError::invalid(
                    "headers",
                    "Authorization is a secret: give it through auth_header_env or auth_header_file",
                ));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                SinkConfigError::invalid(
                    "headers",
                    format!("the value of {name} is not a header value"),
                )
            })?;
            headers.insert(name, value);
        }
        let auth = match mode {
            HttpMode::Ndjson => {
                if config.token_env.is_some()
                    || config.token_file.is_some()
                    || config.index.is_some()
                {
                    return Err(SinkConfigError::invalid(
                        "token_env",
                        "token_env, token_file and index are Splunk settings: use a splunk: sink",
                    ));
                }
                SecretRef::from_pair(
                    "auth_header_env",
                    config.auth_header_env.as_deref(),
                    config.auth_header_file.as_deref(),
                )?
                .map(|r| r.resolve("auth_header"))
                .transpose()?
                .map(|s| s.expose().to_owned())
            }
            HttpMode::SplunkHec => {
                if config.auth_header_env.is_some() || config.auth_header_file.is_some() {
                    return Err(SinkConfigError::invalid(
                        "auth_header_env",
                        "a splunk: sink authenticates with token_env or token_file",
                    ));
                }
                let token = SecretRef::from_pair(
                    "token_env",
                    config.token_env.as_deref(),
                    config.token_file.as_deref(),
                )?
                .ok_or_else(|| {
                    SinkConfigError::invalid(
                        "token_env",
                        "a HEC token is required: give token_env or token_file",
                    )
                })?
                .resolve("token")?;
                if url.path() == "/" || url.path().is_empty() {
                    url.set_path(HEC_EVENT_PATH);
                }
                Some(format!("Splunk {}", token.expose()))
            }
        };
        if let Some(auth) = auth {
            let mut value = HeaderValue::from_str(&auth).map_err(|_| SinkConfigError::Secret {
                key: "token",
                reason: "holds characters that cannot go in an HTTP header".into(),
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let content_type = match mode {
            HttpMode::Ndjson => "application/x-ndjson",
            HttpMode::SplunkHec => "application/json",
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let client = transport::build_client(&url, &config.tls, timeout)?;
        Ok(HttpSink {
            name: format!("{}:{}", mode.kind(), transport::display_url(&url)),
            mode,
            client,
            url,
            headers,
            envelope: Envelope {
                host: config.host.clone(),
                source: config.source.clone(),
                sourcetype: config.sourcetype.clone(),
                index: config.index.clone(),
            },
            limits,
            compression: config.request.compression(DEFAULTS.request),
            progress: None,
        })
    }

    /// The request line for one document, or why it cannot be sent.
    fn encode(&self, doc: &Document) -> Result<Vec<u8>, String> {
        let text =
            std::str::from_utf8(&doc.json).map_err(|e| format!("document is not UTF-8: {e}"))?;
        let event = RawValue::from_string(text.to_owned())
            .map_err(|e| format!("document is not JSON: {e}"))?;
        match self.mode {
            HttpMode::Ndjson => Ok(doc.json.clone()),
            HttpMode::SplunkHec => {
                #[derive(Deserialize)]
                struct Stamp {
                    #[serde(rename = "@timestamp")]
                    timestamp: Option<String>,
                }
                let time = serde_json::from_str::<Stamp>(event.get())
                    .ok()
                    .and_then(|s| s.timestamp)
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| {
                        let micros = t.timestamp_micros();
                        // Exact decimal text: seconds and six digits of fraction.
                        let raw = format!(
                            "{}.{:06}",
                            micros.div_euclid(1_000_000),
                            micros.rem_euclid(1_000_000)
                        );
                        RawValue::from_string(raw)
                    })
                    .transpose()
                    .map_err(|e| format!("cannot encode the time: {e}"))?;
                #[derive(serde::Serialize)]
                struct Event<'a> {
                    #[serde(skip_serializing_if = "Option::is_none")]
                    time: Option<Box<RawValue>>,
                    #[serde(flatten)]
                    envelope: &'a Envelope,
                    event: &'a RawValue,
                }
                serde_json::to_vec(&Event {
                    time,
                    envelope: &self.envelope,
                    event: &event,
                })
                .map_err(|e| format!("cannot encode the HEC envelope: {e}"))
            }
        }
    }

    /// Posts `lines` and classifies the answer; other failures are errors.
    async fn post(&self, lines: &[&[u8]]) -> Result<Answer, SinkError> {
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            body.extend_from_slice(line);
            body.push(b'\n');
        }
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone());
        if self.compression {
            body = transport::gzip(&body);
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport::transport_error(&self.name, e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(Answer::Stored);
        }
        let text = response
            .text()
            .await
            .map_err(|e| transport::transport_error(&self.name, e))?;
        if self.mode == HttpMode::SplunkHec && status == 400 {
            #[derive(Deserialize)]
            struct HecError {
                text: Option<String>,
                code: Option<i64>,
                #[serde(rename = "invalid-event-number")]
                invalid: Option<usize>,
            }
            if let Ok(HecError {
                text: Some(reason),
                code,
                invalid: Some(n),
            }) = serde_json::from_str::<HecError>(&text)
            {
                if n < lines.len() {
                    let code = code.map_or_else(String::new, |c| format!(" (code {c})"));
                    return Ok(Answer::Invalid(
                        n,
                        format!("Splunk HEC refused the event: {reason}{code}"),
                    ));
                }
            }
        }
        if self.mode == HttpMode::Ndjson && matches!(status, 400 | 422) {
            return Ok(Answer::Refused(format!(
                "the collector refused the document (HTTP {status}): {}",
                transport::one_line(&text)
            )));
        }
        let hint = match self.mode {
            HttpMode::Ndjson => "check auth_header_env/auth_header_file",
            HttpMode::SplunkHec => "check the HEC token (token_env/token_file), that it is enabled and may write to the index",
        };
        Err(transport::status_error(
            &self.name,
            status,
            transport::one_line(&text),
            hint,
        ))
    }

    /// Sends `encoded[range]` (one request's worth), splitting it where the collector
    /// refuses documents; `progress` follows every answer.
    async fn deliver(
        &self,
        encoded: &[(usize, Vec<u8>)],
        batch: &[Document],
        range: Range<usize>,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        let mut pending = vec![range];
        while let Some(range) = pending.pop() {
            let lines: Vec<&[u8]> = encoded[range.clone()]
                .iter()
                .map(|e| e.1.as_slice())
                .collect();
            let mut refuse = |at: usize, reason: String| {
                progress.refused.push(Rejected {
                    id: batch[encoded[at].0].id.clone(),
                    reason,
                });
            };
            match self.post(&lines).await? {
                Answer::Stored => {}
                Answer::Invalid(n, reason) => {
                    refuse(range.start + n, reason);
                    if range.start + n + 1 < range.end {
                        pending.push(range.start + n + 1..range.end);
                    }
                    progress.done = range.start + n + 1;
                    continue;
                }
                Answer::Refused(reason) if range.len() == 1 => refuse(range.start, reason),
                Answer::Refused(_) => {
                    let mid = range.start + range.len() / 2;
                    // Second half pushed first so the first half is sent first.
                    pending.push(mid..range.end);
                    pending.push(range.start..mid);
                    continue;
                }
            }
            progress.done = range.end;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Sink for HttpSink {
    /// One request of the configured size.
    fn preferred_batch(&self) -> BatchLimits {
        self.limits
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Nothing to recover: an HTTP endpoint cannot take writes back.
    async fn recover(&mut self, _position: Option<&Value>) -> Result<(), SinkError> {
        Ok(())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        let mut rejected = Vec::new();
        let mut encoded: Vec<(usize, Vec<u8>)> = Vec::with_capacity(batch.len());
        for (i, doc) in batch.iter().enumerate() {
            match self.encode(doc) {
                Ok(line) => encoded.push((i, line)),
                Err(reason) => rejected.push(Rejected {
                    id: doc.id.clone(),
                    reason,
                }),
            }
        }
        // A retry of the batch whose write failed resumes where it stopped.
        let mut progress = match self.progress.take() {
            Some(p) if p.ids.iter().eq(batch.iter().map(|d| &d.id)) => p,
            _ => Progress::default(),
        };
        let start = progress.done;
        let sizes = encoded[start..].iter().map(|e| e.1.len() + 1);
        for range in self.limits.chunks(sizes) {
            let range = start + range.start..start + range.end;
            if let Err(error) = self.deliver(&encoded, batch, range, &mut progress).await {
                progress.ids = batch.iter().map(|d| d.id.clone()).collect();
                self.progress = Some(progress);
                return Err(error);
            }
        }
        rejected.append(&mut progress.refused);
        Ok(Ack {
            position: Value::Null,
            rejected,
        })
    }
}

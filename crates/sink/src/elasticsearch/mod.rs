//! [`ElasticsearchSink`]: the `_bulk` API of Elasticsearch or OpenSearch, idempotent
//! on the event id.
//!
//! Every document is sent as `{"create":{"_index":INDEX,"_id":EVENT_ID}}` + source, so
//! a document sent twice (a retried batch, a restart after a crash) is refused with
//! 409 `version_conflict_engine_exception` the second time, which this sink counts as
//! success: the store holds each event exactly once and the sink needs no position.
//!
//! A batch is cut into bulk requests by count and bytes ([`BatchLimits`]), sent a few
//! at a time, gzip-compressed. Per item: 201 (or 409) is durable; 429/5xx items are
//! sent again, alone, with backoff; 400 items (mapping errors) are returned in
//! [`Ack::rejected`] with the store's reason. A whole-request 429/5xx or a connection
//! failure is a retryable [`SinkError`]; 401/403 is not.

mod config;
mod template;

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use oktaflow_plumbing::{Backoff, RetryPolicy, Secret};

use crate::transport;
use crate::{Ack, BatchLimits, Document, Rejected, Sink, SinkConfigError, SinkError};

pub use config::{ElasticsearchConfig, DEFAULTS, DEFAULT_INDEX};
pub use template::{index_template, index_template_for, Layout};

/// Which product the sink talks to: the bulk API is the same; the index template
/// differs (`flattened` vs OpenSearch's `flat_object`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Elasticsearch 7.x/8.x/9.x (spec prefix `elasticsearch:`).
    Elasticsearch,
    /// OpenSearch 2.x (spec prefix `opensearch:`).
    OpenSearch,
}

impl Flavor {
    /// `elasticsearch` or `opensearch`: the spec prefix and the `kind` of a `[[sinks]]` table.
    pub fn kind(self) -> &'static str {
        match self {
            Flavor::Elasticsearch => "elasticsearch",
            Flavor::OpenSearch => "opensearch",
        }
    }
}

const AUTH_HINT: &str = "check user + password_env/password_file or api_key_env/api_key_file, \
     and that the account may write to the index (privileges create_doc and auto_configure)";

/// Delivers documents to Elasticsearch or OpenSearch through `_bulk`.
pub struct ElasticsearchSink {
    name: String,
    flavor: Flavor,
    client: reqwest::Client,
    base: Url,
    bulk_url: Url,
    auth: Option<HeaderValue>,
    index: String,
    limits: BatchLimits,
    concurrency: usize,
    compression: bool,
    max_item_retries: u32,
    first_retry_delay: Duration,
}

impl std::fmt::Debug for ElasticsearchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchSink")
            .field("name", &self.name)
            .field("index", &self.index)
            .field("auth", &self.auth.as_ref().map(|_| "[redacted]"))
            .field("limits", &self.limits)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// What became of one document of a bulk request.
enum ItemOutcome {
    /// Created now, or already there (409 on create).
    Stored,
    /// Failed with a status worth retrying (429, 5xx).
    Retry { status: u16, reason: String },
    /// Refused for good (400): dead letter.
    Rejected(String),
    /// A failure of the whole configuration (403 on the index, index missing).
    Fatal(SinkError),
}

impl ElasticsearchSink {
    /// Validates `config`, reads its secrets and TLS files, and builds the HTTP client.
    /// Nothing is sent until the first batch.
    pub fn new(
        flavor: Flavor,
        config: &ElasticsearchConfig,
    ) -> Result<ElasticsearchSink, SinkConfigError> {
        let checked = config.check()?;
        let auth = match (&config.user, checked.password, checked.api_key) {
            (Some(user), Some(password), None) => Some(basic_auth(user, &password)),
            (None, None, Some(key)) => {
                Some(header(&format!("ApiKey {}", key.expose()), "api_key")?)
            }
            (None, None, None) => None,
            (Some(_), None, _) => {
                return Err(SinkConfigError::invalid(
                    "password_env",
                    "user is set but no password; give password_env or password_file",
                ))
            }
            (None, Some(_), _) => {
                return Err(SinkConfigError::invalid(
                    "user",
                    "a password is set but no user",
                ))
            }
            (_, Some(_), Some(_)) => {
                return Err(SinkConfigError::invalid(
                    "api_key_env",
                    "give either user + password or an API key, not both",
                ))
            }
        };
        let client = transport::build_client(
            &checked.url,
            &config.tls,
            config.request.timeout(DEFAULTS.request)?,
        )?;
        Ok(ElasticsearchSink {
            name: format!(
                "{}:{}/{}",
                flavor.kind(),
                transport::display_url(&checked.url),
                config.index
            ),
            flavor,
            client,
            bulk_url: transport::endpoint(&checked.url, "_bulk"),
            base: checked.url,
            auth,
            index: config.index.clone(),
            limits: config.limits(),
            concurrency: config.concurrency,
            compression: config.request.compression(DEFAULTS.request),
            max_item_retries: config.max_item_retries,
            first_retry_delay: config.retry_delay,
        })
    }

    /// The index or data stream documents are written to.
    pub fn index(&self) -> &str {
        &self.index
    }

    /// Installs the index template for this sink's index (ECS mappings; see
    /// [`index_template`]) and, with `create_data_stream`, creates the data stream.
    /// Idempotent: the template is replaced by the same one, an existing data stream
    /// is kept. Returns one line per step done, for the operator.
    pub async fn setup(&self, create_data_stream: bool) -> Result<Vec<String>, SinkError> {
        self.setup_for(create_data_stream, Layout::Ecs).await
    }

    /// As [`setup`](Self::setup), with the mappings of documents of `layout`.
    pub async fn setup_for(
        &self,
        create_data_stream: bool,
        layout: Layout,
    ) -> Result<Vec<String>, SinkError> {
        let (name, body) = index_template_for(self.flavor, &self.index, layout);
        let url = transport::endpoint(&self.base, &format!("_index_template/{name}"));
        let body = serde_json::to_vec(&body).map_err(|e| SinkError::Refused {
            sink: self.name.clone(),
            status: 0,
            detail: format!("cannot encode the index template: {e}"),
        })?;
        let (status, text) = self.send(self.client.put(url), body).await?;
        if !(200..300).contains(&status) {
            return Err(self.request_error(status, &text));
        }
        let pattern = template::template_name_and_pattern(&self.index).1;
        let mut done = vec![format!(
            "index template {name} installed (index pattern {pattern})"
        )];
        if create_data_stream {
            let url = transport::endpoint(&self.base, &format!("_data_stream/{}", self.index));
            let (status, text) = self.send(self.client.put(url), Vec::new()).await?;
            if (200..300).contains(&status) {
                done.push(format!("data stream {} created", self.index));
            } else if status == 400 && text.contains("resource_already_exists_exception") {
                done.push(format!("data stream {} already exists", self.index));
            } else {
                return Err(self.request_error(status, &text));
            }
        }
        Ok(done)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        body: Vec<u8>,
    ) -> Result<(u16, String), SinkError> {
        let mut request = request.header(CONTENT_TYPE, "application/json");
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport::transport_error(&self.name, e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| transport::transport_error(&self.name, e))?;
        Ok((status, text))
    }

    fn request_error(&self, status: u16, body: &str) -> SinkError {
        let mut detail = error_reason(body);
        if status == 413 {
            detail.push_str(" — lower max_bytes (or raise http.max_content_length)");
        }
        if status == 404 {
            detail.push_str(" — check the URL, or run `oktaflow setup elasticsearch`");
        }
        transport::status_error(&self.name, status, detail, AUTH_HINT)
    }

    /// Sends the documents `batch[i]` for `i` in `items` as one bulk request and
    /// returns each one's outcome, in order.
    async fn bulk(
        &self,
        batch: &[Document],
        items: &[usize],
    ) -> Result<Vec<ItemOutcome>, SinkError> {
        let mut body = Vec::with_capacity(items.iter().map(|&i| batch[i].json.len() + 100).sum());
        for &i in items {
            write_action(&mut body, &self.index, &batch[i].id);
            body.extend_from_slice(&batch[i].json);
            body.push(b'\n');
        }
        let mut request = self
            .client
            .post(self.bulk_url.clone())
            .header(CONTENT_TYPE, "application/x-ndjson");
        if self.compression {
            body = transport::gzip(&body);
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport::transport_error(&self.name, e))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport::transport_error(&self.name, e))?;
        if !(200..300).contains(&status) {
            return Err(self.request_error(status, &String::from_utf8_lossy(&bytes)));
        }
        let parsed: BulkResponse = serde_json::from_slice(&bytes).map_err(|e| SinkError::Busy {
            sink: self.name.clone(),
            status,
            detail: format!("unreadable bulk response ({e})"),
        })?;
        if parsed.items.len() != items.len() {
            return Err(SinkError::Busy {
                sink: self.name.clone(),
                status,
                detail: format!(
                    "the bulk response has {} items for {} documents",
                    parsed.items.len(),
                    items.len()
                ),
            });
        }
        Ok(parsed
            .items
            .into_iter()
            .map(|item| self.classify(item.into_values().next()))
            .collect())
    }

    fn classify(&self, item: Option<BulkItem>) -> ItemOutcome {
        let Some(item) = item else {
            return ItemOutcome::Retry {
                status: 0,
                reason: "empty bulk item".into(),
            };
        };
        let reason = || {
            item.error
                .as_ref()
                .map_or_else(|| "no reason given".to_owned(), EsError::describe)
        };
        match item.status {
            200..=299 => ItemOutcome::Stored,
            409 => ItemOutcome::Stored,
            401 | 403 => ItemOutcome::Fatal(SinkError::Auth {
                sink: self.name.clone(),
                status: item.status,
                detail: reason(),
                hint: AUTH_HINT,
            }),
            404 => ItemOutcome::Fatal(SinkError::Refused {
                sink: self.name.clone(),
                status: 404,
                detail: format!(
                    "{} — create the index or run `oktaflow setup elasticsearch`",
                    reason()
                ),
            }),
            400..=499 if item.status != 408 && item.status != 429 => {
                ItemOutcome::Rejected(reason())
            }
            status => ItemOutcome::Retry {
                status,
                reason: reason(),
            },
        }
    }
}

#[async_trait::async_trait]
impl Sink for ElasticsearchSink {
    /// One round of concurrent `_bulk` requests: `concurrency` bodies of `max_docs`
    /// documents or `max_bytes` bytes.
    fn preferred_batch(&self) -> BatchLimits {
        let rounds = self.concurrency.max(1);
        BatchLimits {
            max_docs: self.limits.max_docs.saturating_mul(rounds),
            max_bytes: self.limits.max_bytes.saturating_mul(rounds),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Nothing to recover: documents are keyed on the event id, so resending what
    /// was written after the last checkpoint creates no duplicate.
    async fn recover(&mut self, _position: Option<&Value>) -> Result<(), SinkError> {
        Ok(())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        let this = &*self;
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut rejected = Vec::new();
        let mut backoff = Backoff::new(RetryPolicy {
            base: this.first_retry_delay,
            cap: Duration::from_secs(10).max(this.first_retry_delay),
        });
        let mut attempt = 0;
        while !pending.is_empty() {
            let ranges = this.limits.chunks(
                pending
                    .iter()
                    .map(|&i| batch[i].json.len() + batch[i].id.len() + this.index.len() + 40),
            );
            let results: Vec<_> = stream::iter(ranges)
                .map(|range| {
                    let items = &pending[range];
                    async move { (items, this.bulk(batch, items).await) }
                })
                .buffer_unordered(this.concurrency)
                .collect()
                .await;
            let mut retry = Vec::new();
            let mut last_failure = (0, String::new());
            for (items, result) in results {
                for (&i, outcome) in items.iter().zip(result?) {
                    match outcome {
                        ItemOutcome::Stored => {}
                        ItemOutcome::Rejected(reason) => rejected.push(Rejected {
                            id: batch[i].id.clone(),
                            reason,
                        }),
                        ItemOutcome::Retry { status, reason } => {
                            retry.push(i);
                            last_failure = (status, reason);
                        }
                        ItemOutcome::Fatal(error) => return Err(error),
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            attempt += 1;
            if attempt > this.max_item_retries {
                return Err(SinkError::Busy {
                    sink: this.name.clone(),
                    status: last_failure.0,
                    detail: format!(
                        "{} documents still failing after {} retries, e.g. {}",
                        retry.len(),
                        this.max_item_retries,
                        last_failure.1
                    ),
                });
            }
            retry.sort_unstable();
            pending = retry;
            tokio::time::sleep(backoff.next_random_delay()).await;
        }
        Ok(Ack {
            position: Value::Null,
            rejected,
        })
    }
}

fn basic_auth(user: &str, password: &Secret) -> HeaderValue {
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.expose()));
    let mut value = HeaderValue::from_str(&format!("Basic {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

fn header(text: &str, key: &'static str) -> Result<HeaderValue, SinkConfigError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| SinkConfigError::Secret {
        key,
        reason: "holds characters that cannot go in an HTTP header".into(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `{"create":{"_index":INDEX,"_id":ID}}\n`
fn write_action(out: &mut Vec<u8>, index: &str, id: &str) {
    #[derive(serde::Serialize)]
    struct Target<'a> {
        #[serde(rename = "_index")]
        index: &'a str,
        #[serde(rename = "_id")]
        id: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Action<'a> {
        create: Target<'a>,
    }
    // Serializing two strings into a Vec cannot fail.
    let _ = serde_json::to_writer(
        &mut *out,
        &Action {
            create: Target { index, id },
        },
    );
    out.push(b'\n');
}

#[derive(Deserialize)]
struct BulkResponse {
    items: Vec<std::collections::BTreeMap<String, BulkItem>>,
}

#[derive(Deserialize)]
struct BulkItem {
    status: u16,
    #[serde(default)]
    error: Option<EsError>,
}

#[derive(Deserialize)]
struct EsError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    caused_by: Option<Box<EsError>>,
}

impl EsError {
    /// `type: reason (caused by type: reason)`.
    fn describe(&self) -> String {
        let mut text = match &self.reason {
            Some(reason) => format!("{}: {reason}", self.kind),
            None => self.kind.clone(),
        };
        if let Some(cause) = &self.caused_by {
            text.push_str(&format!(" (caused by {})", cause.describe()));
        }
        text
    }
}

/// The reason of an Elasticsearch error body `{"error":{...},"status":N}`, or the
/// body itself on one line.
fn error_reason(body: &str) -> String {
    #[derive(Deserialize)]
    struct Body {
        error: Option<ErrorField>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorField {
        Structured(EsError),
        Text(String),
    }
    match serde_json::from_str::<Body>(body) {
        Ok(Body {
            error: Some(ErrorField::Structured(e)),
        }) => transport::one_line(&e.describe()),
        Ok(Body {
            error: Some(ErrorField::Text(t)),
        }) => transport::one_line(&t),
        _ => transport::one_line(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_lines_escape_and_end_with_a_newline() {
        let mut out = Vec::new();
        write_action(&mut out, "logs-okta.system-default", "a\"b");
        assert_eq!(
            out,
            b"{\"create\":{\"_index\":\"logs-okta.system-default\",\"_id\":\"a\\\"b\"}}\n"
        );
    }

    #[test]
    fn error_reasons_include_the_cause() {
        let body = r#"{"error":{"type":"document_parsing_exception","reason":"failed to parse field [source.ip] of type [ip]","caused_by":{"type":"illegal_argument_exception","reason":"'x' is not an IP string literal."}},"status":400}"#;
        assert_eq!(
            error_reason(body),
            "document_parsing_exception: failed to parse field [source.ip] of type [ip] \
             (caused by illegal_argument_exception: 'x' is not an IP string literal.)"
        );
        assert_eq!(
            error_reason("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_reason(r#"{"error":"Unauthorized"}"#), "Unauthorized");
    }

    #[test]
    fn debug_hides_credentials() {
        let config = ElasticsearchConfig {
            url: "http://127.0.0.1:9".into(),
            user: Some("elastic".into()),
            password_env: Some("PATH".into()),
            ..ElasticsearchConfig::default()
        };
        let sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config).unwrap();
        let debug = format!("{sink:?}");
        assert!(debug.contains("[redacted]"), "{debug}");
        let path = std::env::var("PATH").unwrap();
        assert!(!debug.contains(&path), "{debug}");
        assert_eq!(
            sink.name(),
            "elasticsearch:http://127.0.0.1:9/logs-okta.system-default"
        );
    }
}

//! [`ClickHouseSink`]: `INSERT ... FORMAT JSONEachRow` over ClickHouse's HTTP
//! interface into a `ReplacingMergeTree` table keyed on the event id.
//!
//! Retries cannot duplicate an event in query results:
//!
//! * The table (created by [`ClickHouseSink::setup`], `oktaflow setup clickhouse`) is
//!   a `ReplacingMergeTree` ordered by `id`: rows with the same event id collapse
//!   into one at merge time, and `SELECT ... FROM okta_system_log FINAL` never shows
//!   a duplicate, merged or not.
//! * On ClickHouse 22.2 and later every insert carries an `insert_deduplication_token`
//!   derived from its documents, and the table is created with
//!   `non_replicated_deduplication_window`, so a resent insert is dropped by the
//!   server before it is even stored. Older servers (e.g. Debian's 18.16) do not
//!   know the setting; there the merge key alone deduplicates.
//!
//! The timestamp column is `DateTime64(6, 'UTC')` on servers that have it (20.1+);
//! on older ones it is `DateTime('UTC')` plus `timestamp_us` (the microseconds).
//! The sink reads the table's columns on [`Sink::recover`] and writes rows to match.
//!
//! Insert bodies are compressed (the default, `request.compression = true`) in ClickHouse's
//! own block format, read by the server with `decompress=1`: LZ4 frames of about 256 KB of
//! rows, each with a CityHash v1.0.2 checksum ([`compress_block`]). This is the
//! compression ClickHouse's own clients use: several times cheaper than gzip for oktaflow and
//! for the server alike (measured in `docs/performance.md`).
//!
//! An insert is atomic. When the server refuses one for its data (a row that does
//! not fit a column, e.g. after someone changed the schema), the sink splits the
//! insert in halves until it finds the refused documents, returns them in
//! [`Ack::rejected`] with the server's message and stores the rest.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderValue;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use oktaflow_plumbing::{Secret, SecretRef, TlsConfig};

use crate::config::SinkDefaults;
use crate::transport;
use crate::{
    Ack, BatchLimits, BatchOptions, Document, Rejected, RequestOptions, Sink, SinkConfigError,
    SinkError,
};

/// The default table name.
pub const DEFAULT_TABLE: &str = "okta_system_log";

/// Settings of a `clickhouse:` sink (keys of a `[[sinks]]` table with
/// `kind = "clickhouse"`, or URL query options of the spec).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// Base URL of the HTTP interface, e.g. `http://127.0.0.1:8123`.
    #[serde(deserialize_with = "transport::deserialize_base_url")]
    pub url: String,
    /// Database (default `default`).
    pub database: String,
    /// Table (default `okta_system_log`).
    pub table: String,
    /// User (`X-ClickHouse-User`); ClickHouse's `default` user when absent.
    pub user: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// `[sinks.tls]`: extra CA, client certificate, verification.
    pub tls: TlsConfig,
    /// `[sinks.batch]`: rows (default 20000) and uncompressed bytes (default 32 MB) per
    /// insert.
    pub batch: BatchOptions,
    /// `[sinks.request]`: timeout of one request (default 60 s) and compression (default
    /// true: LZ4 blocks, [`compress_block`]).
    pub request: RequestOptions,
}

/// Defaults of ClickHouse: large inserts (fewer parts to merge) of 20000 rows and 32 MB, 60 s,
/// compressed (LZ4 blocks).
pub const DEFAULTS: SinkDefaults =
    SinkDefaults::new(20_000, 32_000_000, Duration::from_secs(60), true);

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: String::new(),
            database: "default".into(),
            table: DEFAULT_TABLE.into(),
            user: None,
            password_env: None,
            password_file: None,
            tls: TlsConfig::default(),
            batch: BatchOptions::default(),
            request: RequestOptions::default(),
        }
    }
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What the sink learned from the server and the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TableInfo {
    /// The server accepts `insert_deduplication_token` (22.2+).
    dedup_token: bool,
    /// The table has the `timestamp_us` column (the `DateTime` schema of old servers).
    microseconds_column: bool,
}

/// A server version `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u32, u32);

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Version(major, minor))
    }

    fn has_datetime64(self) -> bool {
        self >= Version(20, 1)
    }

    fn has_dedup_token(self) -> bool {
        self >= Version(22, 2)
    }
}

const AUTH_HINT: &str = "check user and password_env/password_file, and that the user may \
     INSERT into the table";

/// Delivers documents to a ClickHouse table.
pub struct ClickHouseSink {
    name: String,
    client: reqwest::Client,
    url: Url,
    user: Option<HeaderValue>,
    password: Option<HeaderValue>,
    database: String,
    table: String,
    limits: BatchLimits,
    compression: bool,
    info: Option<TableInfo>,
}

impl std::fmt::Debug for ClickHouseSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseSink")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Why one insert failed.
enum InsertError {
    /// The server refused the rows' data: split and retry to find the bad rows.
    Data(String),
    /// Anything else.
    Other(SinkError),
}

impl ClickHouseSink {
    /// Validates `config`, reads the password and TLS files and builds the client.
    pub fn new(config: &ClickHouseConfig) -> Result<ClickHouseSink, SinkConfigError> {
        if config.url.is_empty() {
            return Err(SinkConfigError::invalid(
                "url",
                "is required, e.g. http://127.0.0.1:8123",
            ));
        }
        let url = transport::parse_base_url(&config.url)?;
        for (key, value) in [("database", &config.database), ("table", &config.table)] {
            if !valid_identifier(value) {
                return Err(SinkConfigError::invalid(
                    key,
                    format!("`{value}` must be letters, digits and _ (not starting with a digit)"),
                ));
            }
        }
        let limits = config.batch.limits(DEFAULTS.batch);
        limits.validate()?;
        let timeout = config.request.timeout(DEFAULTS.request)?;
        let password: Option<Secret> = SecretRef::from_pair(
            "password_env",
            config.password_env.as_deref(),
            config.password_file.as_deref(),
        )?
        .map(|r| r.resolve("password"))
        .transpose()?;
        let user = config
            .user
            .as_deref()
            .map(|u| {
                HeaderValue::from_str(u)
                    .map_err(|_| SinkConfigError::invalid("user", "not a valid HTTP header value"))
            })
            .transpose()?;
        let password = password
            .map(|p| {
                let mut value =
                    HeaderValue::from_str(p.expose()).map_err(|_| SinkConfigError::Secret {
                        key: "password",
                        reason: "holds characters that cannot go in an HTTP header".into(),
                    })?;
                value.set_sensitive(true);
                Ok::<_, SinkConfigError>(value)
            })
            .transpose()?;
        let client = transport::build_client(&url, &config.tls, timeout)?;
        Ok(ClickHouseSink {
            name: format!(
                "clickhouse:{}/{}.{}",
                transport::display_url(&url),
                config.database,
                config.table
            ),
            client,
            url,
            user,
            password,
            database: config.database.clone(),
            table: config.table.clone(),
            limits,
            compression: config.request.compression(DEFAULTS.request),
            info: None,
        })
    }

    /// Sends one statement; returns the response body on success.
    async fn query(
        &self,
        params: &[(&str, &str)],
        body: reqwest::Body,
    ) -> Result<String, InsertError> {
        let mut request = self.client.post(self.url.clone()).query(params);
        if let Some(user) = &self.user {
            request = request.header("X-ClickHouse-User", user.clone());
        }
        if let Some(password) = &self.password {
            request = request.header("X-ClickHouse-Key", password.clone());
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| InsertError::Other(transport::transport_error(&self.name, e)))?;
        let status = response.status().as_u16();
        let header_code = response
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        let text = response
            .text()
            .await
            .map_err(|e| InsertError::Other(transport::transport_error(&self.name, e)))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let code = header_code.or_else(|| exception_code(&text));
        Err(self.classify(status, code, &text))
    }

    fn classify(&self, status: u16, code: Option<u32>, text: &str) -> InsertError {
        let detail = transport::one_line(text);
        let sink = self.name.clone();
        match code {
            // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
            Some(192 | 193 | 194 | 516) => InsertError::Other(SinkError::Auth {
                sink,
                status,
                detail,
                hint: AUTH_HINT,
            }),
            // ACCESS_DENIED, READONLY
            Some(497 | 164) => InsertError::Other(SinkError::Auth {
                sink,
                status,
                detail,
                hint: AUTH_HINT,
            }),
            // UNKNOWN_TABLE, UNKNOWN_DATABASE, NO_SUCH_COLUMN_IN_TABLE, THERE_IS_NO_COLUMN
            Some(60 | 81 | 16 | 8) => InsertError::Other(SinkError::Refused {
                sink,
                status,
                detail: format!("{detail} — run `oktaflow setup clickhouse`"),
            }),
            // Parsing and type errors of the inserted data.
            Some(6 | 26 | 27 | 32 | 38 | 41 | 53 | 69 | 70 | 72 | 117 | 131 | 321) => {
                InsertError::Data(detail)
            }
            _ => InsertError::Other(transport::status_error(
                &self.name, status, detail, AUTH_HINT,
            )),
        }
    }

    fn error(&self, e: InsertError) -> SinkError {
        match e {
            InsertError::Other(e) => e,
            InsertError::Data(detail) => SinkError::Refused {
                sink: self.name.clone(),
                status: 500,
                detail,
            },
        }
    }

    async fn server_version(&self) -> Result<Version, SinkError> {
        let text = self
            .query(&[], b"SELECT version()".to_vec().into())
            .await
            .map_err(|e| self.error(e))?;
        Version::parse(&text).ok_or_else(|| SinkError::Refused {
            sink: self.name.clone(),
            status: 200,
            detail: format!(
                "cannot read the server version from {:?}",
                transport::one_line(&text)
            ),
        })
    }

    /// Creates the database (unless `default`) and the table if they do not exist,
    /// with the schema that suits the server's version. Idempotent. Returns one line
    /// per step, for the operator.
    pub async fn setup(&self) -> Result<Vec<String>, SinkError> {
        let version = self.server_version().await?;
        let mut done = vec![format!(
            "ClickHouse {}.{} at {}",
            version.0,
            version.1,
            transport::display_url(&self.url)
        )];
        if self.database != "default" {
            let sql = format!("CREATE DATABASE IF NOT EXISTS `{}`", self.database);
            self.query(&[], sql.into_bytes().into())
                .await
                .map_err(|e| self.error(e))?;
            done.push(format!("database {} ready", self.database));
        }
        let sql = create_table_sql(&self.database, &self.table, version);
        self.query(&[], sql.into_bytes().into())
            .await
            .map_err(|e| self.error(e))?;
        done.push(format!(
            "table {}.{} ready (ReplacingMergeTree ORDER BY id; read with SELECT ... FROM {}.{} FINAL)",
            self.database, self.table, self.database, self.table
        ));
        Ok(done)
    }

    async fn probe(&mut self) -> Result<TableInfo, SinkError> {
        if let Some(info) = self.info {
            return Ok(info);
        }
        let version = self.server_version().await?;
        let sql = format!(
            "SELECT name FROM system.columns WHERE database = '{}' AND table = '{}' FORMAT TSV",
            self.database, self.table
        );
        let columns = self
            .query(&[], sql.into_bytes().into())
            .await
            .map_err(|e| self.error(e))?;
        let columns: Vec<&str> = columns.lines().collect();
        if !columns.contains(&"id") || !columns.contains(&"document") {
            return Err(SinkError::Refused {
                sink: self.name.clone(),
                status: 404,
                detail: format!(
                    "table {}.{} does not exist or lacks oktaflow's columns — run `oktaflow setup clickhouse`",
                    self.database, self.table
                ),
            });
        }
        let info = TableInfo {
            dedup_token: version.has_dedup_token(),
            microseconds_column: columns.contains(&"timestamp_us"),
        };
        self.info = Some(info);
        Ok(info)
    }

    /// Inserts the documents `docs` (indices into `batch`, in order), splitting on data
    /// errors. Documents that cannot be encoded and rows the server refuses go to `rejected`.
    async fn insert(
        &self,
        info: TableInfo,
        batch: &[Document],
        docs: Vec<usize>,
        rejected: &mut Vec<Rejected>,
    ) -> Result<(), SinkError> {
        let mut pending = vec![docs];
        while let Some(docs) = pending.pop() {
            let mut encoder =
                RowEncoder::new(batch, &docs, info.microseconds_column, self.compression);
            let result = self.send_rows(info, &mut encoder).await;
            // Rows that could not be encoded are left out of the halves below, so each is
            // reported once.
            rejected.append(&mut encoder.rejected);
            let encoded = encoder.encoded;
            match result {
                Ok(()) => {}
                Err(InsertError::Data(detail)) if encoded.len() == 1 => rejected.push(Rejected {
                    id: batch[encoded[0]].id.clone(),
                    reason: format!("ClickHouse refused the row: {detail}"),
                }),
                Err(InsertError::Data(_)) => {
                    let (first, second) = encoded.split_at(encoded.len() / 2);
                    // Second half pushed first so the first half is inserted first.
                    pending.push(second.to_vec());
                    pending.push(first.to_vec());
                }
                Err(InsertError::Other(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// One `INSERT` of the rows of `encoder`, encoded (and compressed) piece by piece while the
    /// request is sent: the server parses the first rows while the next ones are encoded, and
    /// at most [`PIECES_AHEAD`] pieces of the body are held, never the whole insert. No request
    /// when none of the documents can be encoded.
    async fn send_rows(
        &self,
        info: TableInfo,
        encoder: &mut RowEncoder<'_>,
    ) -> Result<(), InsertError> {
        let io = |e: std::io::Error| {
            InsertError::Other(SinkError::Io {
                sink: self.name.clone(),
                action: "compress the insert",
                error: e,
            })
        };
        // The first piece is encoded before the request is made: it says whether any row is
        // left to insert.
        let first = encoder.next_piece().map_err(io)?;
        if encoder.encoded.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO `{}`.`{}` FORMAT JSONEachRow",
            self.database, self.table
        );
        let token = dedup_token(encoder.batch, encoder.docs);
        let mut params = vec![
            ("query", sql.as_str()),
            ("input_format_skip_unknown_fields", "1"),
        ];
        if info.dedup_token {
            params.push(("insert_deduplication_token", token.as_str()));
        }
        if self.compression {
            // The body is a sequence of ClickHouse compressed blocks (compress_block).
            params.push(("decompress", "1"));
        }
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(PIECES_AHEAD);
        let body =
            reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|piece| (piece, rx))
            }));
        let feed = async move {
            let mut piece = first;
            while let Some(bytes) = piece {
                // An error: the request ended (its answer says why).
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
                piece = match encoder.next_piece() {
                    Ok(next) => next,
                    Err(error) => {
                        let _ = tx.send(Err(error)).await;
                        return;
                    }
                };
            }
        };
        let (answer, ()) = tokio::join!(self.query(&params, body), feed);
        answer.map(|_| ())
    }
}

/// Rows of an insert are encoded (and compressed, one block each) about this many bytes at a
/// time, while the request is sent.
const PIECE: usize = 256 * 1024;

/// Encoded pieces of an insert waiting to be sent (with [`PIECE`], the memory of an insert
/// in flight: about 1 MB, whatever the batch size).
const PIECES_AHEAD: usize = 2;

/// The estimated JSONEachRow line of `doc` (the document escaped into a string column plus
/// the typed columns), to cut a batch into inserts of about `max_bytes` before it is encoded.
fn estimated_row_len(doc: &Document) -> usize {
    doc.json.len() + doc.json.len() / 8 + 512
}

/// The JSONEachRow body of one insert, made piece by piece ([`RowEncoder::next_piece`]).
struct RowEncoder<'a> {
    batch: &'a [Document],
    /// The documents of the insert (indices into `batch`).
    docs: &'a [usize],
    /// How many of `docs` were encoded so far.
    next: usize,
    microseconds_column: bool,
    /// The uncompressed rows of the current piece (reused).
    rows: Vec<u8>,
    /// Whether each piece is sent as a compressed block ([`compress_block`]).
    compress: bool,
    /// The documents encoded so far, in order (the rows of the body).
    encoded: Vec<usize>,
    /// Documents that cannot be stored, with the reason (left out of the body).
    rejected: Vec<Rejected>,
}

impl<'a> RowEncoder<'a> {
    fn new(
        batch: &'a [Document],
        docs: &'a [usize],
        microseconds_column: bool,
        compression: bool,
    ) -> RowEncoder<'a> {
        RowEncoder {
            batch,
            docs,
            next: 0,
            microseconds_column,
            rows: Vec::new(),
            compress: compression,
            encoded: Vec::with_capacity(docs.len()),
            rejected: Vec::new(),
        }
    }

    /// Encodes rows until they reach [`PIECE`] bytes or the documents end; the next bytes of
    /// the body (one compressed block when compressing, never empty), or `None` after the
    /// last.
    fn next_piece(&mut self) -> Result<Option<bytes::Bytes>, std::io::Error> {
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        // A piece ends with the row that passes PIECE.
        rows.reserve(PIECE + PIECE / 4);
        while rows.len() < PIECE && self.next < self.docs.len() {
            let index = self.docs[self.next];
            self.next += 1;
            let doc = &self.batch[index];
            match write_row(doc, self.microseconds_column, &mut rows) {
                Ok(()) => {
                    rows.push(b'\n');
                    self.encoded.push(index);
                }
                Err(reason) => self.rejected.push(Rejected {
                    id: doc.id.clone(),
                    reason,
                }),
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        if !self.compress {
            // Plain: the piece is the rows themselves (no copy).
            return Ok(Some(bytes::Bytes::from(rows)));
        }
        let block = compress_block(&rows)?;
        self.rows = rows;
        Ok(Some(bytes::Bytes::from(block)))
    }
}

/// Method byte of an LZ4 block in ClickHouse's compressed format.
const LZ4_METHOD: u8 = 0x82;

/// The largest block ClickHouse reads (its `DBMS_MAX_COMPRESSED_SIZE`, 1 GiB).
const MAX_BLOCK: usize = 0x4000_0000;

/// `data` as one block of ClickHouse's compressed format, what the server reads from a body
/// sent with `decompress=1`: a CityHash128 (v1.0.2) checksum of the rest (16 bytes, high
/// half first), the method byte (LZ4), the block's size with its 9-byte header and the size
/// of `data` (both `u32` little-endian), then `data` compressed as one LZ4 block. Blocks may
/// be concatenated. Public for the benches' direct insert, which must compress the same way.
pub fn compress_block(data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    const CHECKSUM: usize = 16;
    const HEADER: usize = 9;
    let bound = lz4_flex::block::get_maximum_output_size(data.len());
    if data.len() > MAX_BLOCK || bound + HEADER > MAX_BLOCK {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} bytes of rows do not fit in one ClickHouse block",
                data.len()
            ),
        ));
    }
    let mut block = vec![0; CHECKSUM + HEADER + bound];
    let compressed = lz4_flex::block::compress_into(data, &mut block[CHECKSUM + HEADER..])
        .map_err(|e| std::io::Error::other(format!("LZ4: {e}")))?;
    block.truncate(CHECKSUM + HEADER + compressed);
    // Both fit in u32: checked against MAX_BLOCK above.
    let sizes = [(HEADER + compressed) as u32, data.len() as u32];
    block[CHECKSUM] = LZ4_METHOD;
    block[CHECKSUM + 1..CHECKSUM + 5].copy_from_slice(&sizes[0].to_le_bytes());
    block[CHECKSUM + 5..CHECKSUM + 9].copy_from_slice(&sizes[1].to_le_bytes());
    let hash = cityhash_rs::cityhash_102_128(&block[CHECKSUM..]);
    block[..8].copy_from_slice(&((hash >> 64) as u64).to_le_bytes());
    block[8..CHECKSUM].copy_from_slice(&(hash as u64).to_le_bytes());
    Ok(block)
}

/// A token that is the same whenever the same documents are inserted together.
fn dedup_token(batch: &[Document], docs: &[usize]) -> String {
    match (docs.first(), docs.last()) {
        (Some(&first), Some(&last)) => format!(
            "oktaflow:{}:{}:{}",
            batch[first].id,
            batch[last].id,
            docs.len()
        ),
        _ => String::new(),
    }
}

/// The `Code: N` of a ClickHouse exception text.
fn exception_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The `CREATE TABLE IF NOT EXISTS` statement for a server of `version`.
fn create_table_sql(database: &str, table: &str, version: Version) -> String {
    let (timestamp, micros) = if version.has_datetime64() {
        ("DateTime64(6, 'UTC')", "")
    } else {
        ("DateTime('UTC')", "\n    timestamp_us UInt32,")
    };
    let settings = if version.has_dedup_token() {
        "\nSETTINGS non_replicated_deduplication_window = 1000"
    } else {
        ""
    };
    format!(
        "CREATE TABLE IF NOT EXISTS `{database}`.`{table}` (
    id String,
    timestamp {timestamp},{micros}
    event_action String,
    event_category Array(String),
    event_type Array(String),
    event_outcome String,
    event_severity UInt8,
    event_reason String,
    source_ip String,
    source_domain String,
    source_country String,
    source_city String,
    source_as_organization String,
    user_id String,
    user_name String,
    user_target_name String,
    group_name String,
    user_agent_original String,
    document String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY id{settings}"
    )
}

/// The ECS fields that have their own column, borrowed from the document where
/// possible (unknown fields are skipped without being stored).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EcsFields<'a> {
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: EventFields<'a>,
    #[serde(borrow)]
    source: SourceFields<'a>,
    #[serde(borrow)]
    user: UserFields<'a>,
    #[serde(borrow)]
    group: NameFields<'a>,
    #[serde(borrow)]
    user_agent: UserAgentFields<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EventFields<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    category: Vec<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Option<Cow<'a, str>>,
    severity: Option<u64>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SourceFields<'a> {
    #[serde(borrow)]
    ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    domain: Option<Cow<'a, str>>,
    #[serde(borrow)]
    geo: GeoFields<'a>,
    #[serde(borrow, rename = "as")]
    autonomous_system: AsFields<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GeoFields<'a> {
    #[serde(borrow)]
    country_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    city_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsFields<'a> {
    #[serde(borrow)]
    organization: NameFields<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameFields<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserFields<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    target: NameFields<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserAgentFields<'a> {
    #[serde(borrow)]
    original: Option<Cow<'a, str>>,
}

/// One row as JSONEachRow writes it (column order of the table).
#[derive(serde::Serialize)]
struct Row<'a> {
    id: &'a str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_us: Option<u32>,
    event_action: &'a str,
    event_category: &'a [Cow<'a, str>],
    event_type: &'a [Cow<'a, str>],
    event_outcome: &'a str,
    event_severity: u8,
    event_reason: &'a str,
    source_ip: &'a str,
    source_domain: &'a str,
    source_country: &'a str,
    source_city: &'a str,
    source_as_organization: &'a str,
    user_id: &'a str,
    user_name: &'a str,
    user_target_name: &'a str,
    group_name: &'a str,
    user_agent_original: &'a str,
    document: &'a str,
}

/// Appends the JSONEachRow line for one document to `out`, or says why it cannot be
/// stored (then `out` is unchanged).
fn write_row(doc: &Document, microseconds_column: bool, out: &mut Vec<u8>) -> Result<(), String> {
    let text = std::str::from_utf8(&doc.json).map_err(|e| format!("document is not UTF-8: {e}"))?;
    let ecs: EcsFields<'_> = serde_json::from_str(text)
        .map_err(|e| format!("document is not an ECS JSON object: {e}"))?;
    let published = ecs
        .timestamp
        .as_deref()
        .ok_or("document has no @timestamp")?;
    let published: DateTime<Utc> = DateTime::parse_from_rfc3339(published)
        .map_err(|e| format!("@timestamp {published:?} is not RFC 3339: {e}"))?
        .with_timezone(&Utc);
    let (timestamp, timestamp_us) = if microseconds_column {
        (
            published.format("%Y-%m-%d %H:%M:%S").to_string(),
            Some(published.timestamp_subsec_micros()),
        )
    } else {
        (published.format("%Y-%m-%d %H:%M:%S%.6f").to_string(), None)
    };
    let row = Row {
        id: &doc.id,
        timestamp,
        timestamp_us,
        event_action: ecs.event.action.as_deref().unwrap_or(""),
        event_category: &ecs.event.category,
        event_type: &ecs.event.kind,
        event_outcome: ecs.event.outcome.as_deref().unwrap_or(""),
        event_severity: ecs
            .event
            .severity
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(0),
        event_reason: ecs.event.reason.as_deref().unwrap_or(""),
        source_ip: ecs.source.ip.as_deref().unwrap_or(""),
        source_domain: ecs.source.domain.as_deref().unwrap_or(""),
        source_country: ecs.source.geo.country_name.as_deref().unwrap_or(""),
        source_city: ecs.source.geo.city_name.as_deref().unwrap_or(""),
        source_as_organization: ecs
            .source
            .autonomous_system
            .organization
            .name
            .as_deref()
            .unwrap_or(""),
        user_id: ecs.user.id.as_deref().unwrap_or(""),
        user_name: ecs.user.name.as_deref().unwrap_or(""),
        user_target_name: ecs.user.target.name.as_deref().unwrap_or(""),
        group_name: ecs.group.name.as_deref().unwrap_or(""),
        user_agent_original: ecs.user_agent.original.as_deref().unwrap_or(""),
        document: text,
    };
    let start = out.len();
    serde_json::to_writer(&mut *out, &row).map_err(|e| {
        out.truncate(start);
        format!("cannot encode the row: {e}")
    })
}

#[async_trait::async_trait]
impl Sink for ClickHouseSink {
    /// One insert of the configured size (`max_docs`, default 20,000 rows): ClickHouse
    /// spends much less server CPU per row on large inserts.
    fn preferred_batch(&self) -> BatchLimits {
        self.limits
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// Checks the server and the table (nothing to undo: rows are keyed on the
    /// event id), and learns the table's timestamp schema and whether the server
    /// deduplicates inserts by token.
    async fn recover(&mut self, _position: Option<&Value>) -> Result<(), SinkError> {
        self.info = None;
        self.probe().await.map(|_| ())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        let info = self.probe().await?;
        let mut rejected = Vec::new();
        for range in self.limits.chunks(batch.iter().map(estimated_row_len)) {
            self.insert(info, batch, range.collect(), &mut rejected)
                .await?;
        }
        Ok(Ack {
            position: Value::Null,
            rejected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decide_the_schema() {
        let old = Version::parse("18.16.1").unwrap();
        assert!(!old.has_datetime64() && !old.has_dedup_token());
        let new = Version::parse("24.8.4.13").unwrap();
        assert!(new.has_datetime64() && new.has_dedup_token());
        assert!(create_table_sql("default", "t", old).contains("timestamp_us UInt32"));
        let modern = create_table_sql("db", "t", new);
        assert!(
            modern.contains("DateTime64(6, 'UTC')")
                && modern.contains("non_replicated_deduplication_window")
        );
        assert_eq!(Version::parse("garbage"), None);
    }

    #[test]
    fn rows_carry_typed_columns_and_the_whole_document() {
        let doc = Document {
            id: "e1".into(),
            json: br#"{"@timestamp":"2024-04-22T07:58:12.998000Z","event":{"action":"user.session.start","category":["authentication","session"],"severity":2},"source":{"ip":"89.160.20.128"},"user":{"name":"alice@example.com"}}"#.to_vec(),
        };
        let row = |micros: bool| {
            let mut out = Vec::new();
            write_row(&doc, micros, &mut out).map(|()| out)
        };
        let old: Value = serde_json::from_slice(&row(true).unwrap()).unwrap();
        assert_eq!(old["timestamp"], "2024-04-22 07:58:12");
        assert_eq!(old["timestamp_us"], 998000);
        assert_eq!(
            old["event_category"],
            serde_json::json!(["authentication", "session"])
        );
        assert_eq!(old["user_name"], "alice@example.com");
        assert_eq!(old["group_name"], "");
        assert_eq!(old["document"].as_str().unwrap().as_bytes(), &doc.json[..]);
        let new: Value = serde_json::from_slice(&row(false).unwrap()).unwrap();
        assert_eq!(new["timestamp"], "2024-04-22 07:58:12.998000");
        assert!(new.get("timestamp_us").is_none());
    }

    #[test]
    fn unusable_documents_are_explained() {
        let bad = |json: &str| {
            let mut out = Vec::new();
            let doc = Document {
                id: "x".into(),
                json: json.as_bytes().to_vec(),
            };
            let err = write_row(&doc, true, &mut out).unwrap_err();
            assert!(out.is_empty());
            err
        };
        assert!(bad("{").starts_with("document is not an ECS JSON object"));
        let string_category = r#"{"@timestamp":"2024-04-22T07:58:12Z","event":{"category":"x"}}"#;
        assert!(bad(string_category).starts_with("document is not an ECS JSON object"));
        assert_eq!(bad("{}"), "document has no @timestamp");
        assert!(bad(r#"{"@timestamp":"yesterday"}"#).contains("is not RFC 3339"));
    }

    #[test]
    fn an_insert_body_is_made_in_bounded_pieces_of_the_encodable_rows() {
        let batch: Vec<Document> = (0..300)
            .map(|i| Document {
                id: format!("e{i}"),
                json: if i == 5 {
                    b"{}".to_vec()
                } else {
                    format!(
                        r#"{{"@timestamp":"2024-04-22T07:58:12.{i:06}Z","event":{{"action":"a{i}"}},"message":"{}"}}"#,
                        "x\\\"y".repeat(300 + i * 7)
                    )
                    .into_bytes()
                },
            })
            .collect();
        let docs: Vec<usize> = (0..batch.len()).collect();
        let mut expected = Vec::new();
        let mut longest = 0;
        for doc in batch.iter().filter(|d| d.id != "e5") {
            let start = expected.len();
            write_row(doc, true, &mut expected).unwrap();
            longest = longest.max(expected.len() - start + 1);
            expected.push(b'\n');
        }
        for compression in [false, true] {
            let mut encoder = RowEncoder::new(&batch, &docs, true, compression);
            let mut body = Vec::new();
            let mut pieces = 0;
            while let Some(piece) = encoder.next_piece().unwrap() {
                assert!(!piece.is_empty());
                let rows = if compression {
                    // One whole block per piece.
                    let blocks = read_blocks(&piece);
                    assert_eq!(blocks.len(), 1);
                    blocks.concat()
                } else {
                    piece.to_vec()
                };
                assert!(rows.len() < PIECE + longest, "{} bytes", rows.len());
                body.extend_from_slice(&rows);
                pieces += 1;
            }
            assert_eq!(body, expected, "compression {compression}");
            // One piece per PIECE of rows.
            assert!(pieces >= expected.len() / PIECE, "{pieces} pieces");
            let valid: Vec<usize> = docs.iter().copied().filter(|&i| i != 5).collect();
            assert_eq!(encoder.encoded, valid);
            assert_eq!(encoder.rejected.len(), 1);
            assert_eq!(encoder.rejected[0].id, "e5");
            assert_eq!(encoder.rejected[0].reason, "document has no @timestamp");
        }
        // Nothing encodable: no body at all.
        let mut empty = RowEncoder::new(&batch, &[5], true, false);
        assert!(empty.next_piece().unwrap().is_none());
        assert!(empty.encoded.is_empty());
    }

    /// The blocks of a `decompress=1` body, decompressed, each checked as ClickHouse does
    /// (`CompressedReadBufferBase`): checksum, method, sizes.
    fn read_blocks(mut body: &[u8]) -> Vec<Vec<u8>> {
        let mut blocks = Vec::new();
        while !body.is_empty() {
            assert!(body.len() >= 25, "a truncated block header");
            let size = u32::from_le_bytes(body[17..21].try_into().unwrap()) as usize;
            let plain = u32::from_le_bytes(body[21..25].try_into().unwrap()) as usize;
            let (block, rest) = body.split_at(16 + size);
            let hash = cityhash_rs::cityhash_102_128(&block[16..]);
            assert_eq!(&block[..8], &((hash >> 64) as u64).to_le_bytes());
            assert_eq!(&block[8..16], &(hash as u64).to_le_bytes());
            assert_eq!(block[16], LZ4_METHOD);
            blocks.push(lz4_flex::block::decompress(&block[25..], plain).unwrap());
            body = rest;
        }
        blocks
    }

    #[test]
    fn a_compressed_block_is_lz4_with_clickhouse_checksum_and_sizes() {
        // The server's own check of this format runs in the ClickHouse tests against a real
        // server (tests/clickhouse.rs, pipeline_sinks.rs: compression is on by default).
        let data = b"{\"a\":1}\n".repeat(1000);
        let block = compress_block(&data).unwrap();
        assert_eq!(read_blocks(&block), vec![data.clone()]);
        assert!(block.len() < data.len() / 10, "{} bytes", block.len());
        // An empty block is valid too.
        assert_eq!(
            read_blocks(&compress_block(b"").unwrap()),
            vec![Vec::<u8>::new()]
        );
        // Tampering is visible to the checksum.
        let mut bad = block.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let hash = cityhash_rs::cityhash_102_128(&bad[16..]);
        assert_ne!(&bad[..8], &((hash >> 64) as u64).to_le_bytes());
    }

    #[test]
    fn exception_codes_are_read_from_the_body() {
        assert_eq!(
            exception_code(
                "Code: 60, e.displayText() = DB::Exception: Table default.x doesn't exist"
            ),
            Some(60)
        );
        assert_eq!(
            exception_code("Code: 516. DB::Exception: default: Authentication failed"),
            Some(516)
        );
        assert_eq!(exception_code("oops"), None);
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(valid_identifier("okta_system_log") && valid_identifier("_x1"));
        assert!(
            !valid_identifier("1x")
                && !valid_identifier("a-b")
                && !valid_identifier("a`b")
                && !valid_identifier("")
        );
        let err = ClickHouseSink::new(&ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            table: "okta; DROP".into(),
            ..ClickHouseConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("table: "), "{err}");
    }
}

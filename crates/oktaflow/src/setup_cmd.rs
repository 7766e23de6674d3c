//! `oktaflow setup elasticsearch|opensearch|clickhouse`: prepares a store for
//! oktaflow's documents (index template and data stream; table). Idempotent: running
//! it again changes nothing that is already right.

use clap::{Args, Subcommand};
use oktaflow_sink::clickhouse::{ClickHouseConfig, ClickHouseSink};
use oktaflow_sink::elasticsearch::{ElasticsearchConfig, ElasticsearchSink, Flavor, Layout};
use oktaflow_sink::{parse_sink_spec, SinkError, SinkSpec, SinkSpecError};

use crate::config::split_sink_schema;
use crate::exit::Exit;

/// Arguments of `oktaflow setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The store to prepare.
    #[command(subcommand)]
    pub store: SetupStore,
}

/// The stores `oktaflow setup` knows.
#[derive(Debug, Subcommand)]
pub enum SetupStore {
    /// Install the index template (ECS mappings) for the data stream; optionally create it.
    Elasticsearch(SearchSetupArgs),
    /// The same for OpenSearch (okta.system mapped as flat_object).
    Opensearch(SearchSetupArgs),
    /// Create the ReplacingMergeTree table (and database) the ClickHouse sink writes to.
    Clickhouse(ClickHouseSetupArgs),
}

/// Arguments of `oktaflow setup elasticsearch|opensearch`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  ES_API_KEY=... oktaflow setup elasticsearch 'https://es.corp:9200?api_key_env=ES_API_KEY' --create-data-stream")]
pub struct SearchSetupArgs {
    /// The cluster as in the sink spec after `elasticsearch:`: URL[?option=value&...]
    /// (options: index, user, password_env, password_file, api_key_env, api_key_file,
    /// tls.ca_file, tls.cert_file, tls.key_file, tls.verify_certificate, request.timeout,
    /// schema, ...). Given the sink's own spec, its `schema` option picks the template.
    #[arg(value_name = "URL[?OPTIONS]")]
    pub target: String,

    /// Also create the data stream now (otherwise the first write creates it).
    #[arg(long)]
    pub create_data_stream: bool,

    /// The schema of the documents the index will hold (`ecs`, the default, or `elastic`;
    /// `ocsf` is refused: its events have no `@timestamp` for a data stream), which decides
    /// the mappings installed. The target's `schema` option says the same (both given must
    /// agree).
    #[arg(long, value_name = "SCHEMA")]
    pub schema: Option<oktaflow_normalize::Schema>,
}

/// The index mappings that fit documents of `schema`: `--schema`, else the target's
/// `schema` option (the sink's), else `ecs`.
fn layout(
    flag: Option<oktaflow_normalize::Schema>,
    target: Option<String>,
) -> Result<Layout, SetupCmdError> {
    let from_target = target
        .map(|name| name.parse::<oktaflow_normalize::Schema>())
        .transpose()
        .map_err(SetupCmdError::Schema)?;
    let schema = match (flag, from_target) {
        (Some(flag), Some(target)) if flag != target => {
            return Err(SetupCmdError::SchemaConflict { flag, target })
        }
        (flag, target) => flag.or(target).unwrap_or_default(),
    };
    match schema {
        oktaflow_normalize::Schema::Ecs => Ok(Layout::Ecs),
        oktaflow_normalize::Schema::Elastic => Ok(Layout::Elastic),
        oktaflow_normalize::Schema::Ocsf => Err(SetupCmdError::SchemaUnfit(schema)),
    }
}

/// Arguments of `oktaflow setup clickhouse`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  oktaflow setup clickhouse 'http://127.0.0.1:8123?database=security&table=okta_system_log'

Read without duplicates: SELECT ... FROM security.okta_system_log FINAL")]
pub struct ClickHouseSetupArgs {
    /// The server as in the sink spec after `clickhouse:`: URL[?option=value&...]
    /// (options: database, table, user, password_env, password_file, tls.*, request.*).
    #[arg(value_name = "URL[?OPTIONS]")]
    pub target: String,
}

/// Why `oktaflow setup` failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupCmdError {
    /// The target or its options are wrong.
    #[error(transparent)]
    Spec(#[from] SinkSpecError),
    /// A setting could not be used (secret missing, TLS file unreadable, ...).
    #[error(transparent)]
    Config(#[from] oktaflow_sink::SinkConfigError),
    /// The store refused or could not be reached.
    #[error(transparent)]
    Store(#[from] SinkError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The target's `schema` option is not a schema.
    #[error("schema option of the target: {0}")]
    Schema(oktaflow_normalize::SchemaError),
    /// `--schema` and the target's `schema` option differ.
    #[error("--schema {flag} differs from the target's schema={target}; give one of them")]
    SchemaConflict {
        /// `--schema`.
        flag: oktaflow_normalize::Schema,
        /// The target's option.
        target: oktaflow_normalize::Schema,
    },
    /// The schema's documents cannot go to this store.
    #[error(
        "--schema {0}: no index template for it (OCSF events have no `@timestamp` for a data \
         stream); use --schema ecs or elastic"
    )]
    SchemaUnfit(oktaflow_normalize::Schema),
}

impl SetupCmdError {
    /// The exit code: 2 for a bad target or setting, 4 when the store failed.
    pub fn exit(&self) -> Exit {
        match self {
            SetupCmdError::Spec(_)
            | SetupCmdError::Config(_)
            | SetupCmdError::Schema(_)
            | SetupCmdError::SchemaConflict { .. }
            | SetupCmdError::SchemaUnfit(_) => Exit::Usage,
            SetupCmdError::Store(_) | SetupCmdError::Runtime(_) => Exit::Io,
        }
    }
}

/// Runs `oktaflow setup`; prints one line per step done.
pub fn run(args: &SetupArgs) -> Result<Exit, SetupCmdError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SetupCmdError::Runtime)?;
    let steps = runtime.block_on(async {
        match &args.store {
            SetupStore::Elasticsearch(a) => {
                let (target, schema) = split_sink_schema(&a.target);
                let layout = layout(a.schema, schema)?;
                let config = search_config("elasticsearch", &target)?;
                let sink = ElasticsearchSink::new(Flavor::Elasticsearch, &config)?;
                Ok::<_, SetupCmdError>(sink.setup_for(a.create_data_stream, layout).await?)
            }
            SetupStore::Opensearch(a) => {
                let (target, schema) = split_sink_schema(&a.target);
                let layout = layout(a.schema, schema)?;
                let config = search_config("opensearch", &target)?;
                let sink = ElasticsearchSink::new(Flavor::OpenSearch, &config)?;
                Ok(sink.setup_for(a.create_data_stream, layout).await?)
            }
            SetupStore::Clickhouse(a) => {
                let config = clickhouse_config(&a.target)?;
                Ok(ClickHouseSink::new(&config)?.setup().await?)
            }
        }
    })?;
    for step in steps {
        println!("{step}");
    }
    Ok(Exit::Ok)
}

fn search_config(kind: &str, target: &str) -> Result<ElasticsearchConfig, SinkSpecError> {
    match parse_sink_spec(&format!("{kind}:{target}"))? {
        SinkSpec::Elasticsearch(config) | SinkSpec::OpenSearch(config) => Ok(config),
        _ => Err(SinkSpecError::Unknown(target.to_owned())),
    }
}

fn clickhouse_config(target: &str) -> Result<ClickHouseConfig, SinkSpecError> {
    match parse_sink_spec(&format!("clickhouse:{target}"))? {
        SinkSpec::ClickHouse(config) => Ok(config),
        _ => Err(SinkSpecError::Unknown(target.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_take_the_sink_spec_options() {
        let config = search_config(
            "elasticsearch",
            "https://es:9200?index=logs-okta.system-prod",
        )
        .unwrap();
        assert_eq!(config.index, "logs-okta.system-prod");
        let config = clickhouse_config("http://127.0.0.1:8123?table=okta").unwrap();
        assert_eq!(config.table, "okta");
        let err = search_config("elasticsearch", "es:9200").unwrap_err();
        assert_eq!(SetupCmdError::from(err).exit(), Exit::Usage);
    }

    #[test]
    fn the_template_fits_the_sinks_schema() {
        use oktaflow_normalize::Schema;
        let target = |spec: &str| split_sink_schema(spec).1;
        assert_eq!(layout(None, None).unwrap(), Layout::Ecs);
        assert_eq!(
            layout(None, target("https://es:9200?schema=elastic")).unwrap(),
            Layout::Elastic
        );
        assert_eq!(
            layout(Some(Schema::Elastic), None).unwrap(),
            Layout::Elastic
        );
        assert_eq!(
            layout(Some(Schema::Ecs), target("https://es:9200?schema=ecs")).unwrap(),
            Layout::Ecs
        );
        for (flag, spec, message) in [
            (
                Some(Schema::Ecs),
                "https://es:9200?schema=elastic",
                "--schema ecs differs from the target's schema=elastic; give one of them",
            ),
            (
                None,
                "https://es:9200?index=x&schema=ocsf",
                "--schema ocsf: no index template for it (OCSF events have no `@timestamp` \
                 for a data stream); use --schema ecs or elastic",
            ),
            (
                None,
                "https://es:9200?schema=elk",
                "schema option of the target: unknown schema `elk` (expected one of: ecs, \
                 elastic, ocsf)",
            ),
        ] {
            let err = layout(flag, target(spec)).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert_eq!(err.exit(), Exit::Usage);
        }
        // The rest of the target is the sink's spec.
        let (rest, _) =
            split_sink_schema("https://es:9200?index=logs-okta.system-x&schema=elastic");
        assert_eq!(
            search_config("elasticsearch", &rest).unwrap().index,
            "logs-okta.system-x"
        );
    }
}

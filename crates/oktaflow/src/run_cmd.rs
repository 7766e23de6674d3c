//! `oktaflow run`: each configured Okta org's System Log to the configured sinks, exactly
//! once; several `[[sources]]` run concurrently, each with its own checkpoint, dead-letter
//! file and (for file sinks) output file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oktaflow_monitor::{Metrics, MetricsError, OpsState, SourceMonitor};
use oktaflow_pipeline::{Pipeline, PipelineConfig, PipelineError, SourcesFailed, StopWhen};
use oktaflow_sink::{ExistingFile, SinkSpec};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::cli::RunArgs;
use crate::config::{self, ConfigError, RunConfig, SourceConfig};
use crate::exit::{pipeline_exit, Exit};
use crate::logging;
use crate::pipeline_log::PipelineLog;
use crate::progress::{Console, ProgressObserver};

/// Why `oktaflow run` failed; `Display` is the one-line message.
#[derive(Debug, thiserror::Error)]
pub enum RunCmdError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A sink could not be set up.
    #[error(transparent)]
    Sink(#[from] oktaflow_pipeline::sinks::SinksError),
    /// A combination of settings `run` refuses (e.g. `stdout` shared by several sources).
    #[error("{0}")]
    Unsupported(&'static str),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Some of several sources failed (the others ran to their end).
    #[error("{0}")]
    Sources(SourcesFailed),
    /// The metrics registry could not be built.
    #[error(transparent)]
    Metrics(MetricsError),
    /// The operations endpoint could not listen.
    #[error("cannot serve metrics on {addr}: {error}; choose another --metrics-listen")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

impl RunCmdError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            RunCmdError::Config(_) | RunCmdError::Sink(_) | RunCmdError::Unsupported(_) => {
                Exit::Usage
            }
            RunCmdError::Runtime(_) | RunCmdError::Metrics(_) => Exit::Io,
            RunCmdError::Listen { .. } => Exit::Usage,
            RunCmdError::Pipeline(e) => pipeline_exit(e),
            RunCmdError::Sources(failed) => {
                failed.0.first().map_or(Exit::Io, |(_, e)| pipeline_exit(e))
            }
        }
    }
}

/// Runs `oktaflow run`: one pipeline per configured source, concurrently. A source that fails
/// stops alone (its error is logged, counted in the metrics and shown in `/ready`); the
/// others go on. The exit code is that of the first failed source (in config order) once
/// every pipeline has ended, 0 when none failed.
pub fn run(args: &RunArgs) -> Result<Exit, RunCmdError> {
    let console = Console::init("info");
    let overrides = args.source.overrides();
    // Refuse a bad configuration before any work (nothing is created before this succeeds).
    let config = config::load(args.source.config.as_deref(), &overrides)?;
    // Bound before any sink or state file is created, so a taken port changes nothing.
    let listener = match args.metrics_listen.or(config.metrics_listen) {
        Some(addr) => Some((addr, bind(addr)?)),
        None => None,
    };
    let metrics = Arc::new(Metrics::new().map_err(RunCmdError::Metrics)?);
    let pipelines = build(config, args.once, &metrics, &console)?;
    let several = pipelines.len() > 1;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunCmdError::Runtime)?;
    let mut failed = runtime.block_on(async move {
        let monitors: Vec<Arc<SourceMonitor>> =
            pipelines.iter().map(|p| p.monitor.clone()).collect();
        let _server = match listener {
            Some((addr, listener)) => Some(serve_operations(addr, listener, &metrics, &monitors)?),
            None => None,
        };
        let _ticker = AbortOnDrop(tokio::spawn(oktaflow_monitor::watch(monitors)));
        let stop = stop_on_signals();
        let runs = pipelines
            .into_iter()
            .map(|source| {
                let span = logging::source_span(&source.name);
                (source.name, source.state_dir, source.pipeline, span)
            })
            .collect();
        let failed = oktaflow_pipeline::run_sources(runs, stop).await;
        Ok::<_, RunCmdError>(failed)
    })?;
    if failed.is_empty() {
        return Ok(Exit::Ok);
    }
    if !several {
        if let Some((_, error)) = failed.pop() {
            return Err(RunCmdError::Pipeline(error));
        }
    }
    Err(RunCmdError::Sources(SourcesFailed(failed)))
}

/// One source's pipeline, ready to run.
struct SourcePipeline {
    name: String,
    state_dir: PathBuf,
    pipeline: Pipeline,
    monitor: Arc<SourceMonitor>,
}

/// The pipeline's configuration for one configured source: the binary's config (file,
/// environment, flags) → the typed input of `oktaflow-pipeline`. Several sources share the
/// state directory, so each gets its own dead-letter file.
fn pipeline_config(
    source: &SourceConfig,
    state_dir: &Path,
    (once, several): (bool, bool),
    output_retry_limit: Option<Option<Duration>>,
) -> PipelineConfig {
    let mut config = PipelineConfig::new(
        oktaflow_pipeline::SourceConfig {
            name: source.name.clone(),
            client: source.client.clone(),
            start_from: source.start_from,
            options: source.options.clone(),
        },
        state_dir,
    );
    config.stop_when = if once {
        StopWhen::CaughtUp
    } else {
        StopWhen::Never
    };
    config.output_retry_limit =
        output_retry_limit.unwrap_or(once.then_some(oktaflow_pipeline::ONCE_OUTPUT_RETRY_LIMIT));
    if several {
        config.dead_letter_file = format!("dead-letter.{}.ndjson", source.name);
    }
    config.normalize.schema = source.schema;
    config.enrich = source.enrichment.clone();
    config
}

fn build(
    config: RunConfig,
    once: bool,
    metrics: &Arc<Metrics>,
    console: &Console,
) -> Result<Vec<SourcePipeline>, RunCmdError> {
    let RunConfig {
        state_dir,
        sinks,
        sink_schemas,
        sources,
        output_retry_limit,
        detect,
        ..
    } = config;
    let several = sources.len() > 1;
    if several && sinks.iter().any(|s| matches!(s, SinkSpec::Stdout)) {
        return Err(RunCmdError::Unsupported(
            "the stdout sink cannot be shared by several [[sources]] (their lines could interleave); use file:PATH (one file per source is derived) or a store",
        ));
    }
    let mut built = Vec::with_capacity(sources.len());
    for source in sources {
        let specs: Vec<SinkSpec> = sinks
            .iter()
            .map(|spec| oktaflow_pipeline::sinks::per_source_spec(spec, &source.name, several))
            .collect();
        let sinks = oktaflow_pipeline::sinks::build_sinks(&specs, ExistingFile::Refuse)?;
        let alert_specs = detect
            .as_ref()
            .map_or_else(Vec::new, |d| d.alert_specs(&specs, &source.name, several));
        let alert_sinks =
            oktaflow_pipeline::sinks::build_sinks(&alert_specs, ExistingFile::Refuse)?;
        let monitor = SourceMonitor::new(
            &source.name,
            source.options.poll_interval,
            source.silence_alert,
            metrics.clone(),
        );
        let mut config = pipeline_config(&source, &state_dir, (once, several), output_retry_limit);
        config.detect = detect.as_ref().map(|d| d.rules.clone());
        config.sink_schemas.clone_from(&sink_schemas);
        let mut pipeline = Pipeline::new(config, sinks)?.with_alert_sinks(alert_sinks)?;
        if let Some(push) = &source.push {
            pipeline = pipeline.with_push(push.receiver.clone(), push.options);
        }
        if let Some(sqs) = &source.sqs {
            pipeline = pipeline.with_sqs(sqs.config.clone(), sqs.options);
        }
        pipeline
            .observe(ProgressObserver::new(console))
            .observe(Arc::new(PipelineLog))
            .observe(monitor.clone());
        built.push(SourcePipeline {
            name: source.name.clone(),
            state_dir: state_dir.clone(),
            pipeline,
            monitor,
        });
    }
    Ok(built)
}

/// Binds the operations endpoint's address (outside the runtime, before any work).
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, RunCmdError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|error| RunCmdError::Listen { addr, error })?;
    listener
        .set_nonblocking(true)
        .map_err(|error| RunCmdError::Listen { addr, error })?;
    Ok(listener)
}

/// Serves the operations endpoint on `listener` in a task that ends when the returned guard
/// is dropped. Call it inside the runtime.
fn serve_operations(
    addr: SocketAddr,
    listener: std::net::TcpListener,
    metrics: &Arc<Metrics>,
    monitors: &[Arc<SourceMonitor>],
) -> Result<AbortOnDrop, RunCmdError> {
    let listener =
        TcpListener::from_std(listener).map_err(|error| RunCmdError::Listen { addr, error })?;
    let state = OpsState {
        metrics: metrics.clone(),
        monitors: Arc::new(monitors.to_vec()),
    };
    info!(%addr, "serving /metrics, /health and /ready");
    Ok(AbortOnDrop(tokio::spawn(async move {
        if let Err(error) = oktaflow_monitor::serve(listener, state).await {
            error!(%error, "the metrics endpoint stopped");
        }
    })))
}

/// Aborts a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A stop flag that turns `true` on the first SIGINT or SIGTERM; a second signal exits at once
/// (exactly-once still holds: the next start recovers from the checkpoint). The handlers are
/// installed before this returns. Call it inside the runtime.
pub fn stop_on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let mut signals = Signals::install();
    tokio::spawn(async move {
        signals.recv().await;
        info!("stop requested; finishing the current page");
        let _ = tx.send(true);
        signals.recv().await;
        std::process::exit(130);
    });
    rx
}

/// SIGINT and SIGTERM.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    #[cfg(not(unix))]
    fn install() -> Signals {
        Signals {}
    }

    #[cfg(unix)]
    async fn recv(&mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_is_refused_when_several_sources_would_share_it() {
        let text = "sinks = [\"stdout\"]\n[[sources]]\nname = \"a\"\nokta_url = \"http://127.0.0.1:9\"\napi_token = \"t\"\n[[sources]]\nname = \"b\"\nokta_url = \"http://127.0.0.1:9\"\napi_token = \"t\"\n";
        let config = config::resolve(
            Some((Path::new("x.toml"), text)),
            &|_| None,
            &crate::config::Overrides::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        let metrics = Arc::new(Metrics::new().unwrap());
        let error = build(config, true, &metrics, &Console::default())
            .err()
            .expect("refused");
        assert!(
            error
                .to_string()
                .starts_with("the stdout sink cannot be shared by several [[sources]]"),
            "{error}"
        );
        assert_eq!(error.exit(), Exit::Usage);
    }

    #[test]
    fn failed_sources_are_named_in_one_line() {
        let failed = SourcesFailed(vec![
            ("a".into(), PipelineError::Config("x".into())),
            ("b".into(), PipelineError::Internal("y".into())),
        ]);
        assert_eq!(
            failed.to_string(),
            "2 sources failed: a: x; b: internal error: y"
        );
        assert_eq!(RunCmdError::Sources(failed).exit(), Exit::Usage);
    }
}

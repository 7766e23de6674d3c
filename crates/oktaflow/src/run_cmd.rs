//! `oktaflow run`: each configured Okta org's System Log to the configured sinks, exactly
//! once; several `[[sources]]` run concurrently, each with its own checkpoint, dead-letter
//! file and (for file sinks) output file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::join_all;
use oktaflow_pipeline::{Pipeline, PipelineConfig, PipelineError, StopWhen};
use oktaflow_sink::{ExistingFile, SinkSpec};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, Instrument};

use crate::cli::RunArgs;
use crate::config::{self, ConfigError, RunConfig, SourceConfig};
use crate::exit::{pipeline_exit, Exit};
use crate::logging;
use crate::metrics::{Metrics, MetricsError};
use crate::monitor::{self, SourceMonitor};
use crate::ops_server::{self, OpsState};
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
    Sink(#[from] crate::sinks::SinksError),
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
        let names: Vec<String> = pipelines.iter().map(|p| p.name.clone()).collect();
        let _server = match listener {
            Some((addr, listener)) => Some(serve_operations(addr, listener, &metrics, &monitors)?),
            None => None,
        };
        let _ticker = AbortOnDrop(tokio::spawn(monitor::watch(monitors)));
        let stop = stop_on_signals();
        let runs = pipelines.into_iter().map(|source| {
            let stop = stop.clone();
            let span = logging::source_span(&source.name);
            tokio::spawn(
                async move {
                    let result = source.pipeline.run(stop).await;
                    match &result {
                        Ok(summary) => info!(
                            source = %source.name,
                            written = summary.written,
                            elapsed_secs = summary.elapsed.as_secs_f64(),
                            state_dir = %source.state_dir.display(),
                            "done"
                        ),
                        // A single source's error is the process's one-line error message.
                        Err(error) if several => error!(
                            source = %source.name,
                            error = %error,
                            "source stopped; the other sources go on"
                        ),
                        Err(_) => {}
                    }
                    result
                }
                .instrument(span),
            )
        });
        let mut failed = Vec::new();
        for (name, joined) in names.into_iter().zip(join_all(runs).await) {
            match joined {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => failed.push((name, error)),
                Err(error) => failed.push((name, PipelineError::Internal(error.to_string()))),
            }
        }
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
    once: bool,
    several: bool,
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
    if several {
        config.dead_letter_file = format!("dead-letter.{}.ndjson", source.name);
    }
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
        sources,
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
            .map(|spec| per_source_spec(spec, &source.name, several))
            .collect();
        let sinks = crate::sinks::build_sinks(&specs, ExistingFile::Refuse)?;
        let monitor = SourceMonitor::new(
            &source.name,
            source.options.poll_interval,
            source.silence_alert,
            metrics.clone(),
        );
        let mut pipeline =
            Pipeline::new(pipeline_config(&source, &state_dir, once, several), sinks)?;
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

/// With several sources, each source writes its own file: `PATH` becomes `STEM.SOURCE.EXT`
/// beside it (the file sink's exactly-once offset belongs to one writer), rotated with the
/// same settings. Other sinks are built once per source with the same settings.
fn per_source_spec(spec: &SinkSpec, source: &str, several: bool) -> SinkSpec {
    match spec {
        SinkSpec::File(file) if several => SinkSpec::File(oktaflow_sink::FileConfig {
            path: per_source_path(&file.path, source),
            rotation: file.rotation,
        }),
        other => other.clone(),
    }
}

/// `out/okta.ndjson` → `out/okta.SOURCE.ndjson`; `out/events` → `out/events.SOURCE`.
pub fn per_source_path(path: &Path, source: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{source}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{source}"),
    };
    path.with_file_name(name)
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
        if let Err(error) = ops_server::serve(listener, state).await {
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

/// The sources that failed while others ran; `Display` names each with its error.
#[derive(Debug)]
pub struct SourcesFailed(pub Vec<(String, PipelineError)>);

impl std::fmt::Display for SourcesFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = if self.0.len() == 1 {
            "source"
        } else {
            "sources"
        };
        write!(f, "{} {noun} failed:", self.0.len())?;
        for (i, (name, error)) in self.0.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            write!(f, "{sep}{name}: {error}")?;
        }
        Ok(())
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
    fn several_sources_write_one_file_each() {
        assert_eq!(
            per_source_path(Path::new("/var/log/okta.ndjson"), "acme"),
            Path::new("/var/log/okta.acme.ndjson")
        );
        assert_eq!(
            per_source_path(Path::new("events"), "eu"),
            Path::new("events.eu")
        );
        let file = SinkSpec::File("out.ndjson".into());
        assert_eq!(per_source_spec(&file, "a", false), file);
        assert_eq!(
            per_source_spec(&file, "a", true),
            SinkSpec::File("out.a.ndjson".into())
        );
        let rotation = oktaflow_sink::Rotation {
            size: Some(1 << 20),
            ..oktaflow_sink::Rotation::default()
        };
        let rotating = SinkSpec::File(oktaflow_sink::FileConfig {
            path: "out.ndjson".into(),
            rotation,
        });
        assert_eq!(
            per_source_spec(&rotating, "a", true),
            SinkSpec::File(oktaflow_sink::FileConfig {
                path: "out.a.ndjson".into(),
                rotation,
            }),
            "each source's file rotates like the configured one"
        );
    }

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

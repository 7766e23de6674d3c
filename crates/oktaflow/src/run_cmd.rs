//! `oktaflow run`: the configured Okta org's System Log to the configured sinks, exactly once.

use oktaflow_sink::ExistingFile;
use tokio::sync::watch;
use tracing::info;

use crate::cli::RunArgs;
use crate::config::{self, ConfigError, Overrides, RunConfig};
use crate::exit::Exit;
use crate::pipeline::{Console, Pipeline, PipelineError, PipelineOptions, StopWhen};

/// Why `oktaflow run` failed; `Display` is the one-line message.
#[derive(Debug, thiserror::Error)]
pub enum RunCmdError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A sink could not be set up.
    #[error(transparent)]
    Sink(#[from] crate::sinks::SinksError),
    /// Something this version does not do yet.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl RunCmdError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            RunCmdError::Config(_) | RunCmdError::Sink(_) | RunCmdError::Unsupported(_) => {
                Exit::Usage
            }
            RunCmdError::Runtime(_) => Exit::Io,
            RunCmdError::Pipeline(e) => e.exit(),
        }
    }
}

/// Runs `oktaflow run`.
pub fn run(args: &RunArgs) -> Result<Exit, RunCmdError> {
    let overrides = Overrides {
        domain: args.domain.clone(),
        okta_url: args.okta_url.clone(),
        state_dir: args.state_dir.clone(),
        sinks: args.sinks.clone(),
        start_from: args.start_from.clone(),
        poll_interval: args.poll_interval.clone(),
        backfill_concurrency: args.backfill_concurrency,
    };
    // Refuse a bad configuration before any work (nothing is created before this succeeds).
    let config = config::load(args.config.as_deref(), &overrides)?;
    let (pipeline, options) = build(config, args.once)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunCmdError::Runtime)?;
    let console = Console::init("info");
    runtime.block_on(async move {
        let stop = stop_on_signals();
        let summary = pipeline.run(&console, stop).await?;
        info!(
            written = summary.written,
            elapsed_secs = summary.elapsed.as_secs_f64(),
            state_dir = %options.state_dir.display(),
            "done"
        );
        Ok::<(), RunCmdError>(())
    })?;
    Ok(Exit::Ok)
}

fn build(config: RunConfig, once: bool) -> Result<(Pipeline, PipelineOptions), RunCmdError> {
    let RunConfig {
        state_dir,
        sinks,
        mut sources,
    } = config;
    if sources.len() != 1 {
        return Err(RunCmdError::Unsupported(
            "several [[sources]] are not supported by `oktaflow run` yet; run one oktaflow per source with its own state_dir",
        ));
    }
    let source = sources.remove(0);
    let sinks = crate::sinks::build_sinks(&sinks, ExistingFile::Refuse)?;
    let mut options = PipelineOptions::new(state_dir);
    options.stop_when = if once {
        StopWhen::CaughtUp
    } else {
        StopWhen::Never
    };
    let pipeline = Pipeline::new(source, sinks, options.clone())?;
    Ok((pipeline, options))
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

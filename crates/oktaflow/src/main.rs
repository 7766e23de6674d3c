//! `oktaflow`: pull the Okta System Log, normalize it to Elastic Common Schema,
//! deliver it exactly once.
//!
//! A thin binary: [`cli`] defines the command line (one args struct per subcommand),
//! `main` dispatches to the subcommand's module, which returns an [`exit::Exit`] or
//! an error; the error is printed as one line on stderr and mapped to its exit code.
//! `oktaflow sim` and `oktaflow demo` exist with the cargo feature `sim` (on by default).

mod check_cmd;
mod cli;
mod config;
#[cfg(feature = "sim")]
mod demo_cmd;
mod detect_cmd;
mod exit;
mod logging;
mod manual_cmd;
mod normalize_cmd;
mod pipeline_log;
mod progress;
mod rules_cmd;
mod run_cmd;
mod setup_cmd;
#[cfg(feature = "sim")]
mod sim_cmd;

use std::process::ExitCode;

/// jemalloc instead of glibc's malloc: the pipeline frees batches on other threads than the
/// ones that allocated them, and glibc's per-thread arenas kept that memory (1,000,000-event
/// backfill with detections: peak RSS 167 -> 134 MB, CPU 39 -> 33 s; docs/performance.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::logging::LogFormat;

fn main() -> ExitCode {
    oktaflow_plumbing::install_panic_hook();
    let cli = Cli::parse();
    init_logging(&cli);
    let outcome = match &cli.command {
        Command::Normalize(args) => normalize_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Run(args) => run_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        #[cfg(feature = "sim")]
        Command::Demo(args) => demo_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        #[cfg(feature = "sim")]
        Command::Sim(args) => sim_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Check(args) => check_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Completions(args) => {
            manual_cmd::completions(args).map_err(|e| (e.exit(), e.to_string()))
        }
        Command::Man(args) => manual_cmd::man(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Setup(args) => setup_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Detect(args) => detect_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Rules(args) => rules_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
    };
    // Error texts may quote a server's answer: never a configured secret.
    let outcome = outcome.map_err(|(exit, e)| (exit, oktaflow_plumbing::scrub(&e).into_owned()));
    match outcome {
        Ok(exit) => exit.into(),
        // One line per problem (a configuration may have several).
        Err((exit, message)) if cli.log_format == LogFormat::Json => {
            for line in message.lines() {
                tracing::error!(error = %line, exit_code = exit as u8, "oktaflow failed");
            }
            exit.into()
        }
        Err((exit, message)) => {
            for line in message.lines() {
                eprintln!("oktaflow: error: {line}");
            }
            exit.into()
        }
    }
}

/// Installs the log subscriber (see [`logging`]). In text format, `run`, `demo` and `sim`
/// install their own (the progress console prints log lines above the progress bar); JSON
/// lines are for log shippers, where no bar is drawn, so they are installed here for all.
fn init_logging(cli: &Cli) {
    logging::set_format(cli.log_format);
    let own_console = match cli.command {
        Command::Run(_) => true,
        #[cfg(feature = "sim")]
        Command::Demo(_) | Command::Sim(_) => true,
        _ => false,
    };
    if cli.log_format == LogFormat::Json || !own_console {
        logging::init_stderr(cli.log_format, "info");
    }
}

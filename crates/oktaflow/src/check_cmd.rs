//! `oktaflow check`: validates the configuration, reaches every Okta org and sink, and prints a
//! table of what is OK and what is not. Nothing is written or created.
//!
//! 1. **config** — every schema error of the file (unknown keys, wrongly typed values) with its
//!    `file:line:column` ([`config_file`]), then the merged file + environment + flags are
//!    validated like `run` does: every bad value is listed, each naming the key and where its
//!    value came from.
//! 2. **state_dir** — exists and is writable, or could be created.
//! 3. **each source** — resolves the org's host, opens a TCP connection, then sends ONE
//!    `GET /api/v1/logs?limit=1` with the configured credentials: 401, 403, 404 and 400 are
//!    reported with the fetch crate's own one-line messages ([`source`]).
//! 4. **each sink** — reachable / writable without writing ([`local`]).
//!
//! Exit code: 0 when every check passed, 1 when a check failed, 2 when the configuration is
//! invalid (then nothing else is checked).

mod config_file;
mod local;
mod report;
mod source;

use std::io::Write;
use std::path::Path;

use crate::cli::CheckArgs;
use crate::config::{self, ConfigError};
use crate::exit::Exit;
use report::{Report, Row};

/// Why `oktaflow check` could not run its checks (failed checks are not errors: they are rows).
#[derive(Debug, thiserror::Error)]
pub enum CheckCmdError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The table could not be written to stdout.
    #[error("cannot write the result table: {0}")]
    Output(std::io::Error),
}

impl CheckCmdError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        Exit::Io
    }
}

/// Runs `oktaflow check`.
pub fn run(args: &CheckArgs) -> Result<Exit, CheckCmdError> {
    let mut report = Report::default();
    let exit = check(args, &mut report)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report
        .render(&mut out)
        .and_then(|()| out.flush())
        .map_err(CheckCmdError::Output)?;
    Ok(exit)
}

fn check(args: &CheckArgs, report: &mut Report) -> Result<Exit, CheckCmdError> {
    let Some(config) = check_config(args, report) else {
        return Ok(Exit::Usage);
    };
    report.push(local::check_state_dir(&config.state_dir));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CheckCmdError::Runtime)?;
    let source_rows = runtime.block_on(futures_util::future::join_all(
        config.sources.iter().map(source::check_source),
    ));
    report.extend(source_rows.into_iter().flatten());
    report.extend(config.sinks.iter().map(local::check_sink));

    Ok(if report.failures() == 0 {
        Exit::Ok
    } else {
        Exit::Rejected
    })
}

/// The config rows; the validated configuration when it is valid.
fn check_config(args: &CheckArgs, report: &mut Report) -> Option<config::RunConfig> {
    if let Some(path) = &args.source.config {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let errors = config_file::schema_errors(path, &text);
                if !errors.is_empty() {
                    report.extend(
                        errors
                            .iter()
                            .map(|e| Row::fail("config", "schema", e.to_string())),
                    );
                    return None;
                }
                report.push(Row::ok(
                    "config",
                    "schema",
                    format!("{}: no unknown keys, types as expected", path.display()),
                ));
            }
            Err(source) => {
                let error = ConfigError::Read {
                    path: path.clone(),
                    source,
                };
                report.push(Row::fail("config", "read", error.to_string()));
                return None;
            }
        }
    }
    match config::load(args.source.config.as_deref(), &args.source.overrides()) {
        Ok(config) => {
            report.push(Row::ok(
                "config",
                "values",
                summary(&config, args.source.config.as_deref()),
            ));
            Some(config)
        }
        Err(error) => {
            let problems = error.problems().into_iter();
            report.extend(problems.map(|e| Row::fail("config", "values", e.to_string())));
            None
        }
    }
}

fn summary(config: &config::RunConfig, file: Option<&Path>) -> String {
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    format!(
        "{} source{} ({}), {} sink{}{}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        config.sinks.len(),
        if config.sinks.len() == 1 { "" } else { "s" },
        if file.is_none() {
            "; from environment and flags"
        } else {
            ""
        }
    )
}

//! `oktaflow`: pull the Okta System Log, normalize it to Elastic Common Schema,
//! deliver it exactly once.
//!
//! A thin binary: [`cli`] defines the command line (one args struct per subcommand),
//! `main` dispatches to the subcommand's module, which returns an [`exit::Exit`] or
//! an error; the error is printed as one line on stderr and mapped to its exit code.

mod cli;
mod config;
mod demo_cmd;
mod exit;
mod normalize_cmd;
mod pipeline;
mod records;
mod run_cmd;
mod sim_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Normalize(args) => normalize_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Run(args) => run_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Demo(args) => demo_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
        Command::Sim(args) => sim_cmd::run(args).map_err(|e| (e.exit(), e.to_string())),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err((exit, message)) => {
            eprintln!("oktaflow: error: {message}");
            exit.into()
        }
    }
}

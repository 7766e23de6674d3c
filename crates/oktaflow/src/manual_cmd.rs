//! `oktaflow completions SHELL` and `oktaflow man`: shell completion scripts and the man page,
//! both generated from the `clap` definition in [`crate::cli`], so they never drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::Exit;

/// Why a completion script or man page could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ManualCmdError {
    /// Writing to stdout or to the man directory failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ManualCmdError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        Exit::Io
    }
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<Exit, ManualCmdError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "oktaflow", &mut script);
    write_stdout(&script, "the completion script")?;
    Ok(Exit::Ok)
}

/// Prints the man page on stdout, or writes one page per command into `args.dir` (created
/// if missing).
pub fn man(args: &ManArgs) -> Result<Exit, ManualCmdError> {
    let command = Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(command, dir))
                .map_err(|source| ManualCmdError::Write {
                    what: format!("man pages to {}", dir.display()),
                    source,
                })?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|source| ManualCmdError::Write {
                    what: "the man page".into(),
                    source,
                })?;
            write_stdout(&page, "the man page")?;
        }
    }
    Ok(Exit::Ok)
}

fn write_stdout(bytes: &[u8], what: &str) -> Result<(), ManualCmdError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| ManualCmdError::Write {
            what: what.to_string(),
            source,
        })
}

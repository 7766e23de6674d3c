//! `oktaflow rules test DIR`: the test cases kept beside Sigma rule files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use oktaflow_detect::sigma::test_rules_dir;
use oktaflow_detect::DetectError;

use crate::exit::Exit;

/// Arguments of `oktaflow rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to do with the rules.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// The `oktaflow rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Run the test cases beside each rule file of DIR (`X.yml` → `X.tests.json`): prints
    /// PASS or FAIL per case; exit 1 if any case fails or a rule file has no cases, 2 if a
    /// rule does not load.
    #[command(after_help = TEST_AFTER_HELP)]
    Test {
        /// The folder of Sigma rules (every .yml/.yaml under it).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

const TEST_AFTER_HELP: &str = "\
Case file format (X.tests.json beside X.yml):
  {\"cases\": [{\"name\": \"...\", \"events\": [<Okta LogEvent>, ...], \"expect\": [\"<rule id>\", ...]}]}
Each case runs its events in order through a fresh detector holding every rule of DIR (no \
built-in rule); expect lists the rule.id of each alert the file's own rules must raise, in \
order ([] = none). See docs/detections.md.

Exit codes:
  0  every case passed
  1  a case failed, or a rule file has no test cases
  2  a rule or case file does not load

Example:
  oktaflow rules test rules/sigma/okta";

/// Why `oktaflow rules` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RulesCmdError {
    /// A rule or case file did not load.
    #[error(transparent)]
    Load(DetectError),
}

impl RulesCmdError {
    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        Exit::Usage
    }
}

/// Runs `oktaflow rules ...`.
pub fn run(args: &RulesArgs) -> Result<Exit, RulesCmdError> {
    match &args.command {
        RulesCommand::Test { dir } => {
            let outcomes = test_rules_dir(dir).map_err(RulesCmdError::Load)?;
            let mut failed = 0;
            for o in &outcomes {
                if o.passed() {
                    println!("PASS {}: {}", o.file, o.name);
                    continue;
                }
                failed += 1;
                match &o.error {
                    Some(error) => println!("FAIL {}: {}: {error}", o.file, o.name),
                    None => println!(
                        "FAIL {}: {}: expected {:?}, got {:?}",
                        o.file, o.name, o.expected, o.got
                    ),
                }
            }
            println!(
                "{} case(s): {} passed, {failed} failed",
                outcomes.len(),
                outcomes.len() - failed
            );
            Ok(if failed == 0 {
                Exit::Ok
            } else {
                Exit::Rejected
            })
        }
    }
}

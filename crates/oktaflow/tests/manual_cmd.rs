//! `oktaflow completions SHELL` and `oktaflow man`: generated from the command line definition.

use std::process::{Command, Output};

const SUBCOMMANDS: [&str; 7] = [
    "normalize",
    "run",
    "demo",
    "sim",
    "check",
    "completions",
    "man",
];

fn oktaflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oktaflow"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("oktaflow runs")
}

fn success_stdout(args: &[&str]) -> String {
    let output = oktaflow(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn completion_scripts_know_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = success_stdout(&["completions", shell]);
        for subcommand in SUBCOMMANDS {
            assert!(script.contains(subcommand), "{shell}: no `{subcommand}`");
        }
        assert!(script.contains("log-format"), "{shell}: no --log-format");
        assert!(
            script.contains("metrics-listen"),
            "{shell}: no --metrics-listen"
        );
    }
    let bash = success_stdout(&["completions", "bash"]);
    assert!(
        bash.contains("complete -F _oktaflow"),
        "not a bash completion script"
    );
    let fish = success_stdout(&["completions", "fish"]);
    assert!(
        fish.contains("complete -c oktaflow"),
        "not a fish completion script"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let output = oktaflow(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid value 'tcsh'"));
}

#[test]
fn the_man_page_is_roff_and_lists_the_subcommands() {
    let page = success_stdout(&["man"]);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(page.contains(".TH oktaflow 1"), "no title header");
    assert!(page.contains(".SH SUBCOMMANDS"), "no SUBCOMMANDS section");
    for subcommand in SUBCOMMANDS {
        assert!(
            page.contains(&format!("oktaflow\\-{subcommand}(1)")),
            "no `{subcommand}` in the man page"
        );
    }
    assert!(page.contains("Exit codes"), "no exit codes");
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let temp = tempfile::tempdir().expect("temp dir");
    // The directory is created (with its parents) when missing, as `install -d` would.
    let dir = temp.path().join("share/man/man1");
    let path = dir.to_str().expect("UTF-8 path");
    let output = success_stdout(&["man", "--dir", path]);
    assert!(output.is_empty());
    for name in [
        "oktaflow.1",
        "oktaflow-run.1",
        "oktaflow-check.1",
        "oktaflow-man.1",
    ] {
        let page =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(page.contains(".SH NAME"), "{name}");
    }
    let check = std::fs::read_to_string(dir.join("oktaflow-check.1")).expect("check page");
    assert!(
        check.contains("GET /api/v1/logs?limit=1"),
        "long help is in the page"
    );
}

//! Shared helpers of the pipeline tests: an in-process simulator, a config file pointing at it,
//! the `oktaflow` binary as a child process, and readers of what it wrote.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use tokio::process::{Child, Command};

/// The simulator's accepted API token in these tests.
pub const TOKEN: &str = "pipeline-test-SECRET-7f3a91";

/// Longest any single `oktaflow` run may take before the test fails instead of hanging.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// A quiet org: no late events, a generous rate limit (so the pacer learns it at once).
pub fn quiet(events: usize) -> SimConfig {
    SimConfig {
        events,
        late_fraction: 0.0,
        rate_limit_per_minute: Some(60_000),
        api_token: TOKEN.to_string(),
        ..SimConfig::default()
    }
}

/// Starts a simulator on a free loopback port.
pub async fn start_sim(config: SimConfig) -> SimHandle {
    Simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts")
}

/// A temporary working directory with an output file and a state directory in it.
pub struct Workdir {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The file sink's output.
    pub out: PathBuf,
    /// `--state-dir`.
    pub state: PathBuf,
    /// The config file (once written).
    pub config: PathBuf,
}

impl Workdir {
    /// A fresh directory; nothing in it yet.
    pub fn new() -> Workdir {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out.ndjson");
        let state = dir.path().join("state");
        let config = dir.path().join("oktaflow.toml");
        Workdir {
            dir,
            out,
            state,
            config,
        }
    }

    /// Writes a config file for `sim` with `page_size` and extra `[source]` lines.
    pub fn write_config(&self, sim: &SimHandle, page_size: u32, extra: &str) -> &Path {
        let text = format!(
            "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n[source]\nokta_url = \"{}\"\nstart_from = \"2d\"\npage_size = {page_size}\nrequest_timeout = \"2s\"\n{extra}\n",
            self.state.display(),
            self.out.display(),
            sim.base_url(),
        );
        std::fs::write(&self.config, text).expect("config written");
        &self.config
    }

    /// `oktaflow run --config <config> [args]` with only `OKTA_API_TOKEN` (when given) and
    /// `RUST_LOG=warn` in its environment.
    pub fn run_cmd(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = oktaflow(token);
        cmd.arg("run").arg("--config").arg(&self.config).args(args);
        cmd
    }

    /// The checkpoint file.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.state.join("okta.checkpoint.json")
    }

    /// The checkpoint as JSON.
    pub fn checkpoint(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.checkpoint_path()).expect("checkpoint exists");
        serde_json::from_str(&text).expect("checkpoint is JSON")
    }

    /// What the checkpoint calls committed in the file sink at `path`: its first `offset`
    /// bytes (nothing before the first checkpoint). After a kill the file may hold more, even
    /// half a line, which the next start truncates.
    pub fn committed_text(&self, path: &Path) -> String {
        if !self.checkpoint_path().exists() {
            return String::new();
        }
        let key = format!(
            "file:{}",
            std::path::absolute(path).expect("path").display()
        );
        let offset = self.checkpoint()["sinks"][key]["offset"]
            .as_u64()
            .expect("the file's offset in the checkpoint");
        let offset = usize::try_from(offset).expect("offset fits in memory");
        let bytes = std::fs::read(path).unwrap_or_default();
        assert!(bytes.len() >= offset, "the file holds its committed part");
        String::from_utf8(bytes[..offset].to_vec()).expect("committed bytes are UTF-8")
    }

    /// The file sink's committed offset recorded in the checkpoint.
    pub fn committed_offset(&self) -> u64 {
        let out = std::path::absolute(&self.out).expect("absolute path");
        self.checkpoint()["sinks"][format!("file:{}", out.display())]["offset"]
            .as_u64()
            .expect("file sink offset in the checkpoint")
    }
}

/// The `oktaflow` binary with a clean environment.
pub fn oktaflow(token: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oktaflow"));
    cmd.env_clear()
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    if let Some(token) = token {
        cmd.env("OKTA_API_TOKEN", token);
    }
    cmd
}

/// Runs `cmd` to its end (failing the test after [`RUN_TIMEOUT`]).
pub async fn finish(mut cmd: Command) -> Output {
    let child = cmd.spawn().expect("oktaflow starts");
    wait(child).await
}

/// Waits for a spawned child (failing the test after [`RUN_TIMEOUT`]).
pub async fn wait(child: Child) -> Output {
    tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("oktaflow finishes in time")
        .expect("oktaflow output")
}

/// Asserts a successful run, showing its stderr otherwise.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "oktaflow failed ({:?}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `event.id` of each line of an NDJSON output file (empty if it does not exist).
pub fn ids(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => ids_of(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("reading {}: {e}", path.display()),
    }
}

/// The `event.id` of each line of NDJSON text (every line must be a whole JSON document).
pub fn ids_of(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            doc["event"]["id"].as_str().expect("event.id").to_string()
        })
        .collect()
}

/// Fails on a repeated id.
pub fn assert_unique(ids: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "event {id} written twice");
    }
}

/// The size of a file (0 if it does not exist).
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Starts `cmd`, sends it SIGKILL after `delay` and checks that it died of the signal (it
/// polls forever, so it must not have exited by itself). Returns whether the kill landed
/// while it was running.
pub async fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd.spawn().expect("oktaflow starts");
    tokio::time::sleep(delay).await;
    let running = child.try_wait().expect("child status").is_none();
    if running {
        child.start_kill().expect("SIGKILL sent");
    }
    let output = wait(child).await;
    assert!(
        output.status.code().is_none(),
        "killed by the signal, not exited: {:?} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    running
}

/// Asserts that `written` holds at least `at_least` events and is a prefix of the org's
/// delivery order `delivered` (nothing lost, nothing reordered).
pub fn assert_org_order_prefix(written: &[String], delivered: &[String], at_least: usize) {
    assert!(
        written.len() >= at_least,
        "at least {at_least} events are there: {}",
        written.len()
    );
    assert!(
        written.len() <= delivered.len(),
        "{} events written, the org delivered {}",
        written.len(),
        delivered.len()
    );
    assert_eq!(
        written[..],
        delivered[..written.len()],
        "a prefix of the org's order"
    );
}

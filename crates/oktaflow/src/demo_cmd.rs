//! `oktaflow demo`: a simulated Okta org, the real pipeline, a summary. No setup needed.
//!
//! Starts the Okta API simulator in-process on a free loopback port (N events over the last
//! 24 hours, live events, a few late ones), runs the same [`Pipeline`] as `oktaflow run`
//! (backfill in 4 parallel time slices) into `DIR/events.ndjson` with its state in
//! `DIR/state/`, follows live events for a while after catching up, and prints what it wrote.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions, DEFAULT_SETTLE};
use oktaflow_pipeline::{
    Committed, EnrichOptions, Pipeline, PipelineConfig, PipelineError, PipelineObserver,
    ProfileStatus, ProfilesSynced, RunSummary, SourceConfig, StopReason, StopWhen,
};
use oktaflow_sim::{SimConfig, Simulator};
use oktaflow_sink::{ExistingFile, FileSink, Sink};

use crate::cli::DemoArgs;
use crate::config::parse_duration;
use crate::exit::{pipeline_exit, Exit};
use crate::pipeline_log::PipelineLog;
use crate::progress::{Console, ProgressObserver};
use crate::run_cmd::stop_on_signals;

/// Marks a directory as created by `oktaflow demo` (so re-running may empty it).
pub const MARKER: &str = ".oktaflow-demo";
/// The demo's output file name.
pub const EVENTS_FILE: &str = "events.ndjson";
/// The demo's alert file name (beside the events, the default of `oktaflow run`).
pub const ALERTS_FILE: &str = "alerts.ndjson";
/// The demo's profile documents (one per changed user or device, identity enrichment).
pub const PROFILES_FILE: &str = "profiles.ndjson";
/// Largest backlog the demo generates.
pub const MAX_EVENTS: usize = 5_000_000;
/// Backfill workers in the demo.
const BACKFILL_CONCURRENCY: usize = 4;
/// Live events per second added by the simulated org.
const LIVE_EVENTS_PER_SEC: f64 = 25.0;
/// The simulated org's rate limit (requests per minute); oktaflow uses half of it.
const RATE_LIMIT_PER_MINUTE: u32 = 6_000;

/// Why the demo failed; `Display` is the one-line message.
#[derive(Debug, thiserror::Error)]
pub enum DemoCmdError {
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
    /// The directory cannot be used.
    #[error("{path}: {reason}")]
    Dir {
        /// The directory (or a file in it).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The simulator or runtime could not start.
    #[error("{0}")]
    Start(String),
    /// The pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl DemoCmdError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            DemoCmdError::Usage(_) | DemoCmdError::Dir { .. } => Exit::Usage,
            DemoCmdError::Start(_) => Exit::Io,
            DemoCmdError::Pipeline(e) => pipeline_exit(e),
        }
    }
}

/// Runs `oktaflow demo`.
pub fn run(args: &DemoArgs) -> Result<Exit, DemoCmdError> {
    if args.events == 0 || args.events > MAX_EVENTS {
        return Err(DemoCmdError::Usage(format!(
            "--events {} is out of range; use 1..={MAX_EVENTS}",
            args.events
        )));
    }
    let follow = parse_duration(&args.follow)
        .map_err(|reason| DemoCmdError::Usage(format!("--follow: {reason}")))?;
    prepare_dir(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DemoCmdError::Start(format!("cannot start the async runtime: {e}")))?;
    let console = Console::init("warn,oktaflow::progress=info");
    let categories = Arc::new(Categories::default());
    let profiles = Arc::new(ProfileTally::default());
    let summary = runtime.block_on(demo(
        args,
        follow,
        &console,
        categories.clone(),
        profiles.clone(),
    ))?;
    print!(
        "{}",
        report(&summary, &categories.tally(), &profiles.latest(), &args.dir)
    );
    Ok(Exit::Ok)
}

/// The profile store's latest state, for the summary.
#[derive(Debug, Default)]
struct ProfileTally(Mutex<Option<ProfileStatus>>);

impl ProfileTally {
    fn latest(&self) -> Option<ProfileStatus> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl PipelineObserver for ProfileTally {
    fn profiles_synced(&self, synced: &ProfilesSynced<'_>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(synced.status.clone());
    }
}

/// The summary's `event.category` counts, tallied from the committed batches.
#[derive(Debug, Default)]
struct Categories(Mutex<BTreeMap<&'static str, u64>>);

impl Categories {
    fn tally(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl PipelineObserver for Categories {
    fn batch_committed(&self, batch: &Committed<'_>) {
        let mut tally = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for category in batch.categories {
            *tally.entry(category).or_default() += 1;
        }
    }
}

async fn demo(
    args: &DemoArgs,
    follow: Duration,
    console: &Console,
    categories: Arc<Categories>,
    profiles: Arc<ProfileTally>,
) -> Result<RunSummary, DemoCmdError> {
    let token = format!("demo-{:032x}", rand::random::<u128>());
    let sim_config = SimConfig {
        seed: args.seed,
        events: args.events,
        backlog_span: Duration::from_secs(24 * 3600),
        live_events_per_sec: LIVE_EVENTS_PER_SEC,
        rate_limit_per_minute: Some(RATE_LIMIT_PER_MINUTE),
        late_fraction: 0.01,
        api_token: token.clone(),
        attacks: !args.no_attacks,
        ..SimConfig::default()
    };
    eprintln!(
        "oktaflow demo: generating a simulated Okta org with {} events over the last 24 h...",
        args.events
    );
    let sim = Simulator::start(sim_config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| DemoCmdError::Start(format!("cannot start the Okta simulator: {e}")))?;
    let org = OrgUrl::from_base_url(&sim.base_url())
        .map_err(|e| DemoCmdError::Start(format!("simulator URL: {e}")))?;
    eprintln!(
        "oktaflow demo: simulator at {}; backfilling with {BACKFILL_CONCURRENCY} workers, then following live events for {}",
        sim.base_url(),
        humanize(follow)
    );
    let mut client = ClientConfig::new(org, Auth::ApiToken(Secret::new(token)));
    client.page_size = 1000;
    let source = SourceConfig {
        name: "demo".to_string(),
        client,
        start_from: Utc::now() - TimeDelta::hours(25),
        options: SourceOptions {
            poll_interval: Duration::from_secs(1),
            backfill_concurrency: BACKFILL_CONCURRENCY,
            settle: DEFAULT_SETTLE,
        },
    };
    // The events, and the alerts beside them (where `oktaflow run` puts them by default).
    let file = |name: &str| -> Result<Vec<Box<dyn Sink>>, DemoCmdError> {
        let path = args.dir.join(name);
        let sink = FileSink::new(&path, ExistingFile::Truncate);
        let sink = sink.map_err(|e| DemoCmdError::Dir {
            path,
            reason: e.to_string(),
        })?;
        Ok(vec![Box::new(sink)])
    };
    let (sinks, alert_sinks) = (file(EVENTS_FILE)?, file(ALERTS_FILE)?);
    let mut config = PipelineConfig::new(source, args.dir.join("state"));
    config.stop_when = StopWhen::FollowFor(follow);
    config.detect = Some(oktaflow_detect::RulesConfig::default());
    // Who the users and devices are: the simulated org's directory, synced before the
    // backfill (the simulator is ours alone: all of its directory rate limit), then every
    // hour beside the log polling.
    config.enrich = Some(EnrichOptions {
        profiles_file: Some(args.dir.join(PROFILES_FILE)),
        rate_limit_share: 1.0,
        ..EnrichOptions::default()
    });
    config.profiles_first = true;
    let mut pipeline = Pipeline::new(config, sinks)?.with_alert_sinks(alert_sinks)?;
    pipeline
        .observe(ProgressObserver::new(console))
        .observe(Arc::new(PipelineLog))
        .observe(categories)
        .observe(profiles);
    let summary = pipeline.run(stop_on_signals()).await;
    sim.shutdown().await;
    Ok(summary?)
}

/// Creates `dir`, or empties a previous demo's; refuses any other existing directory.
fn prepare_dir(dir: &Path) -> Result<(), DemoCmdError> {
    let fail = |path: &Path, reason: String| DemoCmdError::Dir {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            let is_demo = dir.join(MARKER).is_file();
            if !is_demo && entries.next().is_some() {
                return Err(fail(
                    dir,
                    format!("exists and is not an oktaflow demo directory (no {MARKER} file); remove it or pass another --dir"),
                ));
            }
            for name in [EVENTS_FILE, ALERTS_FILE, PROFILES_FILE, "state"] {
                let path = dir.join(name);
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                match removed {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(fail(&path, format!("cannot remove: {e}"))),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| fail(dir, format!("cannot create: {e}")))?;
        }
        Err(e) => return Err(fail(dir, format!("cannot read: {e}"))),
    }
    std::fs::write(
        dir.join(MARKER),
        "Created by `oktaflow demo`; re-running the demo empties this directory.\n",
    )
    .map_err(|e| fail(&dir.join(MARKER), format!("cannot write: {e}")))
}

/// The closing summary.
fn report(
    summary: &RunSummary,
    by_category: &BTreeMap<&'static str, u64>,
    profiles: &Option<ProfileStatus>,
    dir: &Path,
) -> String {
    let secs = summary.elapsed.as_secs_f64().max(0.001);
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "oktaflow demo: {} events written in {:.1} s ({:.0} events/s){}",
        group(summary.written),
        secs,
        summary.written as f64 / secs,
        match summary.stopped {
            StopReason::Requested => " (stopped early)",
            StopReason::CaughtUp | StopReason::FollowDone => "",
        }
    );
    let mut categories: Vec<(&&str, &u64)> = by_category.iter().collect();
    categories.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "  by event.category:");
    for (category, count) in categories {
        let _ = writeln!(out, "    {category:<20} {:>10}", group(*count));
    }
    let _ = writeln!(
        out,
        "  rejected (dead-lettered): {}",
        group(summary.rejected + summary.refused_by_sinks)
    );
    let _ = writeln!(out, "  alerts raised: {}", group(summary.alerts));
    for (rule, count) in &summary.alerts_by_rule {
        let _ = writeln!(out, "    {rule:<30} {:>6}", group(*count));
    }
    if let Some(status) = profiles {
        let _ = writeln!(
            out,
            "  profiles: {} users, {} devices in the store",
            group(status.users),
            group(status.devices)
        );
    }
    if let Some(l) = &summary.profile_lookups {
        let _ = writeln!(
            out,
            "    joined onto events: {} users and {} devices known, {} and {} unknown to the directory",
            group(l.user_hits),
            group(l.device_hits),
            group(l.user_misses),
            group(l.device_misses)
        );
    }
    let _ = writeln!(
        out,
        "  requests: {} ({} retried, {} rate-limited)",
        group(summary.fetch.requests),
        summary.fetch.retries,
        summary.fetch.rate_limited
    );
    let _ = writeln!(out, "  ECS events:   {}", dir.join(EVENTS_FILE).display());
    let _ = writeln!(out, "  alerts:       {}", dir.join(ALERTS_FILE).display());
    if profiles.is_some() {
        let _ = writeln!(out, "  profiles:     {}", dir.join(PROFILES_FILE).display());
    }
    let _ = writeln!(out, "  checkpoint:   {}", summary.checkpoint_path.display());
    // The dead-letter path is absolute (it names the file in checkpoints); show it relative
    // to the current directory like the others when it lies below it.
    let dead = std::env::current_dir()
        .ok()
        .and_then(|cwd| summary.dead_letter_path.strip_prefix(cwd).ok())
        .unwrap_or(&summary.dead_letter_path);
    let _ = writeln!(out, "  dead letters: {}", dead.display());
    out
}

/// `1234567` → `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn humanize(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn demo_dir_is_created_emptied_or_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("demo");
        prepare_dir(&dir).unwrap();
        assert!(dir.join(MARKER).is_file());
        std::fs::write(dir.join(EVENTS_FILE), "old\n").unwrap();
        std::fs::create_dir(dir.join("state")).unwrap();
        std::fs::write(dir.join("state/demo.checkpoint.json"), "{}").unwrap();
        prepare_dir(&dir).unwrap();
        assert!(!dir.join(EVENTS_FILE).exists());
        assert!(!dir.join("state").exists());

        let other = root.path().join("mine");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "keep me").unwrap();
        let err = prepare_dir(&other).unwrap_err();
        assert!(
            err.to_string()
                .contains("is not an oktaflow demo directory"),
            "{err}"
        );
        assert_eq!(err.exit(), Exit::Usage);
        assert!(other.join("notes.txt").is_file());
    }
}

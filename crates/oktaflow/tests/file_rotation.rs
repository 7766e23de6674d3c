//! The file sink's rotation end to end: `oktaflow run` with a small `rotate_size` (a new file
//! at nearly every batch), killed with `kill -9` at random moments of a backfill while live
//! events arrive and restarted each time, keeps every event exactly once, in order, across
//! the rotated files and the active one; bad rotation options are refused before any work.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use oktaflow_sim::{SimConfig, SimHandle};
use oktaflow_sink::rotated_path;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

/// Writes a config for `sim` with `page_size` whose only sink is the `[[sinks]]` table `sink`
/// (its lines after the header).
fn write_config(work: &Workdir, sim: &SimHandle, page_size: u32, sink: &str) {
    let text = format!(
        "state_dir = \"{}\"\n\n[[sinks]]\n{sink}\n\n[source]\nokta_url = \"{}\"\nstart_from = \"2d\"\npage_size = {page_size}\nrequest_timeout = \"2s\"\nrate_limit_share = 1.0\ninterval = \"10s\"\n",
        work.state.display(),
        sim.base_url(),
    );
    std::fs::write(&work.config, text).expect("config written");
}

/// The rotated files of `active` in number order, checking that the numbers run 1, 2, 3, ...
fn rotated_files(active: &Path) -> Vec<PathBuf> {
    let dir = active.parent().expect("a directory");
    let count = std::fs::read_dir(dir)
        .expect("read dir")
        .filter(|entry| {
            let name = entry.as_ref().expect("entry").file_name();
            let name = name.to_string_lossy();
            // `out.alerts.ndjson` is the detect stage's alert file beside the events.
            name != "out.ndjson"
                && name != "out.alerts.ndjson"
                && name.starts_with("out.")
                && name.ends_with(".ndjson")
        })
        .count();
    let files: Vec<PathBuf> = (1..=count as u64)
        .map(|n| rotated_path(active, n))
        .collect();
    for file in &files {
        assert!(file.is_file(), "{} exists: no gap", file.display());
    }
    files
}

/// The file sink's position in the checkpoint: (segment, offset); (1, 0) before the first one.
fn position(work: &Workdir) -> (u64, u64) {
    if !work.checkpoint_path().exists() {
        return (1, 0);
    }
    let out = std::path::absolute(&work.out).expect("absolute path");
    let position = &work.checkpoint()["sinks"][format!("file:{}", out.display())];
    (
        position["segment"]
            .as_u64()
            .expect("a segment in the position"),
        position["offset"]
            .as_u64()
            .expect("an offset in the position"),
    )
}

/// What the checkpoint calls committed, as a reader would assemble it: every rotated file
/// before the checkpointed segment, whole, then that segment's first `offset` bytes (it is
/// still the active file, or was just renamed when the process was killed).
fn committed_text(work: &Workdir) -> String {
    let (segment, offset) = position(work);
    let mut bytes = Vec::new();
    for n in 1..segment {
        let rotated = std::fs::read(rotated_path(&work.out, n)).expect("rotated file");
        assert!(
            rotated.ends_with(b"\n"),
            "rotated file {n} ends with a whole line"
        );
        bytes.extend_from_slice(&rotated);
    }
    let renamed = rotated_path(&work.out, segment);
    let current = if renamed.exists() {
        renamed
    } else {
        work.out.clone()
    };
    let tail = std::fs::read(&current).unwrap_or_default();
    assert!(
        tail.len() as u64 >= offset,
        "the file holds everything the checkpoint calls committed"
    );
    bytes.extend_from_slice(&tail[..offset as usize]);
    let text = String::from_utf8(bytes).expect("committed bytes are UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the committed offset ends on a line boundary"
    );
    text
}

/// `kill -9` at random moments of a backfill with live events arriving, with a file rotated
/// at nearly every batch, restarting each time, then a `--once` run to catch up: the
/// rotated files in order, then the active file, hold every event exactly once, in the org's
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_rotating_loses_and_duplicates_nothing() {
    let sim = start_sim(SimConfig {
        live_events_per_sec: 20.0,
        late_fraction: 0.01,
        // Large enough that most kills land in the backfill (about 1,500 events per run).
        ..quiet(16_000)
    })
    .await;
    let backlog = sim.visible_events();
    let work = Workdir::new();
    // Small pages: many small batches, so many rotations and fsyncs per event.
    write_config(
        &work,
        &sim,
        20,
        &format!(
            "kind = \"file\"\npath = \"{}\"\nrotate_size = \"32KiB\"",
            work.out.display()
        ),
    );
    let mut rng = StdRng::seed_from_u64(0x726f_7461);
    let mut kills = 0;
    for _ in 0..12 {
        let delay = Duration::from_millis(rng.random_range(150..900));
        if kill_after(work.run_cmd(Some(TOKEN), &[]), delay).await {
            kills += 1;
        }
        let written = ids_of(&committed_text(&work));
        assert_unique(&written);
        assert_eq!(
            written[..],
            sim.delivered_order()[..written.len()],
            "the committed events are a prefix of the org's order"
        );
        let (segment, _) = position(&work);
        eprintln!(
            "killed after {delay:?}: {} events committed, checkpoint at segment {segment}, {} \
             rotated files{}",
            written.len(),
            rotated_files(&work.out).len(),
            if rotated_path(&work.out, segment).exists() {
                " (killed mid-rotation: the checkpointed segment was already renamed)"
            } else {
                ""
            }
        );
    }
    assert!(kills >= 10, "{kills} kills");

    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);
    let rotated = rotated_files(&work.out);
    assert!(rotated.len() >= 10, "rotated {} times", rotated.len());
    let mut text = String::new();
    for file in &rotated {
        let part = std::fs::read_to_string(file).expect("rotated file");
        assert!(
            !part.is_empty() && part.ends_with('\n'),
            "{}",
            file.display()
        );
        text.push_str(&part);
    }
    text.push_str(&std::fs::read_to_string(&work.out).expect("active file"));
    let written = ids_of(&text);
    assert_unique(&written);
    let delivered = sim.delivered_order();
    assert_org_order_prefix(&written, &delivered, backlog);
    assert_eq!(
        position(&work),
        (rotated.len() as u64 + 1, file_len(&work.out)),
        "the checkpoint names the active file and all of it"
    );
    sim.shutdown().await;
}

/// Rotation options are checked with the configuration: one line naming the option, exit 2,
/// nothing created and no request sent — from a `[[sinks]]` table and from a `--sink` spec,
/// for `run` and for `check`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rotation_options_are_refused_before_any_work() {
    let sim = start_sim(quiet(100)).await;
    let work = Workdir::new();
    write_config(
        &work,
        &sim,
        50,
        &format!(
            "kind = \"file\"\npath = \"{}\"\nrotate_size = \"lots\"",
            work.out.display()
        ),
    );
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        format!(
            "oktaflow: error: sinks (from {}): rotate_size: `lots` is not a size; use e.g. \
             256MiB, 1GB or a number of bytes",
            work.config.display()
        )
    );

    let mut check = oktaflow(Some(TOKEN));
    check.arg("check").arg("--config").arg(&work.config);
    let output = finish(check).await;
    assert_eq!(output.status.code(), Some(2));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("rotate_size: `lots` is not a size"),
        "{table}"
    );

    let spec = format!("file:{}?rotate_interval=0s", work.out.display());
    let output = finish(work.run_cmd(Some(TOKEN), &["--once", "--sink", &spec])).await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim_end(),
        format!(
            "oktaflow: error: sinks (from --sink): options of sink spec \"file:{}\": \
             rotate_interval: must be at least 1s; leave it out for no time rotation",
            work.out.display()
        )
    );

    assert!(!work.state.exists(), "no state directory");
    assert!(!work.out.exists(), "no output file");
    assert_eq!(sim.stats().requests, 0, "no request reached the org");
    sim.shutdown().await;
}

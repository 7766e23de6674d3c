//! One process per state directory and output file: a second `oktaflow run` is refused with
//! exit 2 and one line naming the first one's pid, `oktaflow check` does not disturb a running
//! process, a lock left by `kill -9` never blocks a restart, and a checkpoint of another org,
//! a state directory that is a file, or a sink on a state file are refused before any work.

mod support;

use std::process::Output;
use std::time::Duration;

use support::*;

/// The one line a failed run printed on stderr.
fn one_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {stderr}");
    lines[0].to_string()
}

/// Waits until a continuous run has committed something (so it holds its locks).
async fn until_committed(work: &Workdir) {
    tokio::time::timeout(RUN_TIMEOUT, async {
        while !work.checkpoint_path().exists() || file_len(&work.out) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the first run starts writing");
}

fn sigterm(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_is_refused_and_check_does_not_disturb_the_first() {
    let sim = start_sim(quiet(6_000)).await;
    let work = Workdir::new();
    work.write_config(&sim, 50, "rate_limit_share = 1.0");
    let first = work
        .run_cmd(Some(TOKEN), &[])
        .spawn()
        .expect("oktaflow starts");
    let pid = first.id().expect("running");
    until_committed(&work).await;

    let second = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(second.status.code(), Some(2));
    assert_eq!(
        one_line(&second),
        format!(
            "oktaflow: error: state directory {} is in use by another oktaflow process (pid \
             {pid}); stop it first, or give this run another state directory",
            work.state.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(work.state.join("oktaflow.lock")).unwrap(),
        format!("{pid}\n")
    );

    // `check` writes nothing and takes no lock: it passes while the run goes on.
    let mut check = oktaflow(Some(TOKEN));
    check.arg("check").arg("--config").arg(&work.config);
    let check = finish(check).await;
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    sigterm(pid);
    let first = wait(first).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Once the first has ended, running again is exact.
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written, sim.delivered_order());
    assert_eq!(work.committed_offset(), file_len(&work.out));
    sim.shutdown().await;
}

/// Two `run --once` started together on one state directory and output: whichever comes
/// second is refused (exit 2) unless the first has already finished; either way every event
/// is written exactly once, and a further run is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_once_runs_at_the_same_time_write_every_event_once() {
    let sim = start_sim(quiet(12_000)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 1.0");
    let a = work
        .run_cmd(Some(TOKEN), &["--once"])
        .spawn()
        .expect("starts");
    let b = work
        .run_cmd(Some(TOKEN), &["--once"])
        .spawn()
        .expect("starts");
    let (a, b) = tokio::join!(wait(a), wait(b));
    let codes = [a.status.code(), b.status.code()];
    for output in [&a, &b] {
        match output.status.code() {
            Some(0) => {}
            Some(2) => assert!(
                one_line(output).contains("is in use by another oktaflow process (pid "),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            ),
            other => panic!(
                "exit {other:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
    assert!(codes.contains(&Some(0)), "one of them ran: {codes:?}");
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written, sim.delivered_order());
    assert_eq!(work.committed_offset(), file_len(&work.out));

    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    assert_eq!(ids(&work.out), sim.delivered_order());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_left_by_kill_9_does_not_block_a_restart() {
    let sim = start_sim(quiet(4_000)).await;
    let work = Workdir::new();
    work.write_config(&sim, 50, "rate_limit_share = 1.0");
    let mut first = work.run_cmd(Some(TOKEN), &[]).spawn().expect("starts");
    let pid = first.id().expect("running");
    until_committed(&work).await;
    first.start_kill().expect("SIGKILL sent");
    let killed = wait(first).await;
    assert_eq!(killed.status.code(), None, "died of the signal");
    // The lock file and the dead process's pid in it stay; the lock itself died with it.
    let lock = work.state.join("oktaflow.lock");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), format!("{pid}\n"));

    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written, sim.delivered_order());
    assert_ne!(std::fs::read_to_string(&lock).unwrap(), format!("{pid}\n"));
    sim.shutdown().await;
}

/// Another process that writes the same output file through another state directory is
/// refused too: the output file has its own lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_of_one_output_file_is_refused() {
    let sim = start_sim(quiet(6_000)).await;
    let work = Workdir::new();
    work.write_config(&sim, 50, "rate_limit_share = 1.0");
    let first = work.run_cmd(Some(TOKEN), &[]).spawn().expect("starts");
    let pid = first.id().expect("running");
    until_committed(&work).await;

    let other_state = work.dir.path().join("other-state");
    let args = ["--once", "--state-dir", other_state.to_str().unwrap()];
    let second = finish(work.run_cmd(Some(TOKEN), &args)).await;
    assert_eq!(second.status.code(), Some(2));
    assert_eq!(
        one_line(&second),
        format!(
            "oktaflow: error: {} is being written by another process (pid {pid}); stop it, or \
             write to another file",
            work.out.display()
        )
    );
    sigterm(pid);
    assert_success(&wait(first).await);
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written[..], sim.delivered_order()[..written.len()]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_of_another_org_is_refused_and_nothing_changes() {
    let first_org = start_sim(quiet(300)).await;
    let work = Workdir::new();
    work.write_config(&first_org, 100, "rate_limit_share = 1.0");
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let checkpoint = std::fs::read(work.checkpoint_path()).unwrap();
    let output = std::fs::read(&work.out).unwrap();

    // Another org on the same host (another port): its cursor must not be sent there.
    let other_org = start_sim(quiet(300)).await;
    work.write_config(&other_org, 100, "rate_limit_share = 1.0");
    let refused = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(refused.status.code(), Some(2));
    let path = work.checkpoint_path();
    let (was, now) = (
        first_org.base_url().replace("http://", ""),
        other_org.base_url().replace("http://", ""),
    );
    assert_eq!(
        one_line(&refused),
        format!(
            "oktaflow: error: checkpoint {} belongs to {was}, not {now}; to start fresh for \
             {now}, move {} away (and a file sink's output file with it), or give this run \
             another state directory",
            path.display(),
            path.display()
        )
    );
    assert_eq!(
        other_org.stats().requests,
        0,
        "nothing was sent to the other org"
    );
    assert_eq!(std::fs::read(&path).unwrap(), checkpoint);
    assert_eq!(std::fs::read(&work.out).unwrap(), output);
    first_org.shutdown().await;
    other_org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_that_is_a_file_is_a_usage_error() {
    let sim = start_sim(quiet(10)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "");
    std::fs::write(&work.state, "not a directory").unwrap();
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        one_line(&output),
        format!(
            "oktaflow: error: state directory {} is not a directory; give a directory (it is \
             created if missing)",
            work.state.display()
        )
    );
    assert!(!work.out.exists());
    assert_eq!(sim.stats().requests, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_on_a_state_file_or_on_another_sinks_file_is_refused_before_any_work() {
    let sim = start_sim(quiet(100)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 1.0");
    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    let checkpoint = std::fs::read(work.checkpoint_path()).unwrap();
    let output = std::fs::read(&work.out).unwrap();

    let link = work.dir.path().join("link.ndjson");
    std::os::unix::fs::symlink(&work.out, &link).unwrap();
    let cases = [
        (
            vec![format!("file:{}", work.checkpoint_path().display())],
            "a file of the state directory",
        ),
        (
            vec![
                format!("file:{}", work.out.display()),
                format!("file:{}", link.display()),
            ],
            "write the same file",
        ),
    ];
    for (sinks, expected) in cases {
        let mut args = vec!["--once".to_string()];
        for sink in &sinks {
            args.extend(["--sink".to_string(), sink.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let refused = finish(work.run_cmd(Some(TOKEN), &args)).await;
        assert_eq!(refused.status.code(), Some(2), "{sinks:?}");
        let line = one_line(&refused);
        assert!(line.contains(expected), "{line}");
    }
    assert_eq!(std::fs::read(work.checkpoint_path()).unwrap(), checkpoint);
    assert_eq!(std::fs::read(&work.out).unwrap(), output);
    sim.shutdown().await;
}

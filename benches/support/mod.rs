//! Measuring a child process for the bench binaries: wall time, CPU time (`/proc/PID/stat`
//! of the exited child) and peak RSS (the child's own `VmHWM`), the `oktaflow` binary to
//! run, plus small helpers they share.

#![allow(dead_code)] // each bench uses a part

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Runs a command to its end: wall time and peak RSS (KiB).
///
/// The peak is the child's own `VmHWM`, sampled from `/proc` every 10 ms until it exits:
/// `wait4`'s `ru_maxrss` would include this (large, simulator-holding) process's RSS, which
/// Linux carries over into a forked child's high-water mark.
pub fn timed(cmd: &mut Command) -> Result<Run, Box<dyn Error>> {
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kib) = vm_hwm_kib(pid) {
                    peak = peak.max(kib);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let waited = wait_with_cpu(&mut child);
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let rss = sampler.join().map_err(|_| "the RSS sampler panicked")?;
    let (code, cpu) = waited?;
    if code != Some(0) {
        return Err(format!("{cmd:?} exited with {code:?}").into());
    }
    Ok(Run {
        elapsed,
        cpu,
        rss_kib: rss,
    })
}

/// What one child run took.
pub struct Run {
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
    /// User + system CPU time of the child.
    pub cpu: Duration,
    /// Peak RSS in KiB.
    pub rss_kib: u64,
}

/// Waits for the child to exit and returns its exit code and CPU time (user + system).
///
/// Without `unsafe`: `waitid(WEXITED | WNOWAIT)` waits for the exit but leaves the child a
/// zombie, whose `/proc/PID/stat` still holds its `utime` and `stime`; then it is reaped.
pub fn wait_with_cpu(child: &mut Child) -> Result<(Option<i32>, Duration), Box<dyn Error>> {
    use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
    let pid = Pid::from_raw(i32::try_from(child.id())?).ok_or("a child's pid is positive")?;
    loop {
        match waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let cpu = cpu_time(&child.id().to_string())?;
    let status = child.wait()?;
    Ok((status.code(), cpu))
}

/// User + system CPU time of process `pid` (or `self`) from `/proc/PID/stat` (fields 14
/// and 15, in clock ticks).
pub fn cpu_time(pid: &str) -> Result<Duration, Box<dyn Error>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = stat.rsplit_once(')').ok_or("no ')' in /proc/PID/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `after_name` starts at field 3 (state): utime is field 14, stime field 15.
    let ticks = |i: usize| -> Result<u64, Box<dyn Error>> {
        Ok(fields.get(i - 3).ok_or("short /proc/PID/stat")?.parse()?)
    };
    let total = ticks(14)? + ticks(15)?;
    let per_second = rustix::param::clock_ticks_per_second();
    Ok(Duration::from_secs_f64(total as f64 / per_second as f64))
}

/// The optimized `oktaflow` binary the benches run: `OKTAFLOW_BIN` when set, else the one
/// `cargo build --release -p oktaflow --bin oktaflow` reports (built first, a no-op when up
/// to date; honours `CARGO_TARGET_DIR`). The bench crate cannot use `CARGO_BIN_EXE_oktaflow`,
/// which cargo only sets for a binary of the bench's own package.
pub fn oktaflow_binary() -> Result<PathBuf, Box<dyn Error>> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| build_oktaflow().map_err(|e| e.to_string()))
        .clone()
        .map_err(Into::into)
}

/// A command running the binary of [`oktaflow_binary`], which `main` resolved first.
pub fn oktaflow() -> Command {
    let path = oktaflow_binary().expect("main resolves oktaflow_binary() before running anything");
    Command::new(path)
}

fn build_oktaflow() -> Result<PathBuf, Box<dyn Error>> {
    if let Some(path) = std::env::var_os("OKTAFLOW_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(format!("OKTAFLOW_BIN={} is not a file", path.display()).into());
        }
        return Ok(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    eprintln!("building the oktaflow binary: cargo build --release -p oktaflow --bin oktaflow");
    let output = Command::new(&cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "-p",
            "oktaflow",
            "--bin",
            "oktaflow",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cargo:?} to build the oktaflow binary: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build --release -p oktaflow` failed ({}); or set OKTAFLOW_BIN to a built binary",
            output.status
        )
        .into());
    }
    // The compiler-artifact message of the binary names its path.
    let executable = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "oktaflow")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    executable.ok_or_else(|| {
        "cargo build did not report the oktaflow executable; set OKTAFLOW_BIN to a built binary"
            .into()
    })
}

/// `VmHWM` of a running process in KiB (`None` once it exited).
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn report(what: &str, events: usize, run: &Run) {
    println!(
        "{what}: {events} events in {:.2} s = {:.0} events/s, CPU {:.2} s, peak RSS {:.1} MiB",
        run.elapsed.as_secs_f64(),
        events as f64 / run.elapsed.as_secs_f64(),
        run.cpu.as_secs_f64(),
        run.rss_kib as f64 / 1024.0
    );
}

pub fn count_lines(path: &Path) -> Result<usize, Box<dyn Error>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes.iter().filter(|&&b| b == b'\n').count())
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub fn env_number(name: &str, default: u64) -> Result<u64, Box<dyn Error>> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|e| format!("{name}={value:?}: {e}").into()),
        Err(_) => Ok(default),
    }
}

//! Measuring a child process for the bench binaries: wall time, CPU time (`wait4`) and
//! peak RSS (the child's own `VmHWM`), plus small helpers they share.

use std::error::Error;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a command to its end: wall time and peak RSS (KiB).
///
/// The peak is the child's own `VmHWM`, sampled from `/proc` every 10 ms until it exits:
/// `wait4`'s `ru_maxrss` would include this (large, simulator-holding) process's RSS, which
/// Linux carries over into a forked child's high-water mark.
pub fn timed(cmd: &mut Command) -> Result<Run, Box<dyn Error>> {
    let started = Instant::now();
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
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
    let waited = wait_with_rusage(pid);
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

/// Reaps the child with `wait4`, which also reports its resource usage.
pub fn wait_with_rusage(pid: u32) -> Result<(Option<i32>, Duration), Box<dyn Error>> {
    let pid = libc::pid_t::try_from(pid)?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child (its `Child` is never waited on), and both
        // out-pointers point to live, writable locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error.into());
        }
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let seconds = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok((code, seconds(usage.ru_utime) + seconds(usage.ru_stime)))
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

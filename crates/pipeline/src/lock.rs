//! [`StateLock`]: one process at a time in a state directory.
//!
//! Two processes on one state directory would both resume from the same checkpoint and write
//! the same output: events lost and duplicated. So a pipeline takes an exclusive lock on
//! `<state_dir>/oktaflow.lock` ([`LOCK_FILE`]) before it reads or writes anything there, and
//! holds it until it ends. The lock is the operating system's (`flock(2)`): it is released when
//! the process ends, however it ends, so a stale lock file left by `kill -9` never blocks a
//! restart. The holder writes its pid into the file, and a refused process names it.
//!
//! Granularity: one lock per state directory per process. Several sources of one process that
//! share a state directory share its lock (each [`StateLock::acquire`] in the process adds a
//! user; the lock is released when the last one is dropped).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use oktaflow_plumbing::{lock_holder, try_lock_exclusive};

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "oktaflow.lock";

/// Why the state directory could not be locked; `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "state directory {dir} is in use by another oktaflow process{}; stop it first, or give \
         this run another state directory",
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Busy {
        /// The state directory.
        dir: PathBuf,
        /// The holder's pid, when known.
        pid: Option<u32>,
    },
    /// The state directory's path names something that is not a directory.
    #[error(
        "state directory {dir} is not a directory; give a directory (it is created if missing)"
    )]
    NotADirectory {
        /// The configured path.
        dir: PathBuf,
    },
    /// The state directory or its lock file could not be created or locked.
    #[error("state directory {dir}: cannot {action}: {error}")]
    Io {
        /// The state directory.
        dir: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        error: io::Error,
    },
}

/// The locks this process holds: one open lock file per state directory, with its users.
static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

struct Held {
    dir: PathBuf,
    users: usize,
    /// Open and locked: closing it releases the lock.
    _file: File,
}

fn held() -> MutexGuard<'static, Vec<Held>> {
    HELD.lock().unwrap_or_else(|p| p.into_inner())
}

/// This process's lock on a state directory, held until dropped (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct StateLock {
    dir: PathBuf,
}

impl StateLock {
    /// Creates `dir` if missing and locks it for this process, or adds a user to this
    /// process's lock on it. Refuses with [`LockError::Busy`] when another process holds it.
    pub fn acquire(dir: &Path) -> Result<StateLock, LockError> {
        let io = |action: &'static str| {
            move |error: io::Error| match error.kind() {
                io::ErrorKind::NotADirectory => LockError::NotADirectory {
                    dir: dir.to_path_buf(),
                },
                _ => LockError::Io {
                    dir: dir.to_path_buf(),
                    action,
                    error,
                },
            }
        };
        if fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
            return Err(LockError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        fs::create_dir_all(dir).map_err(io("create it"))?;
        let canonical = fs::canonicalize(dir).map_err(io("resolve it"))?;
        let mut held = held();
        if let Some(entry) = held.iter_mut().find(|h| h.dir == canonical) {
            entry.users += 1;
            return Ok(StateLock { dir: canonical });
        }
        let path = canonical.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open its lock file"))?;
        if !try_lock_exclusive(&file).map_err(io("lock it"))? {
            let mut text = String::new();
            let pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok())
                .or_else(|| lock_holder(&file));
            return Err(LockError::Busy {
                dir: dir.to_path_buf(),
                pid,
            });
        }
        // The pid is only for the message of a refused process: a failure to write it is
        // not worth failing the run for.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        held.push(Held {
            dir: canonical.clone(),
            users: 1,
            _file: file,
        });
        Ok(StateLock { dir: canonical })
    }

    /// The locked directory (canonical).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let mut held = held();
        if let Some(i) = held.iter().position(|h| h.dir == self.dir) {
            held[i].users -= 1;
            if held[i].users == 0 {
                held.swap_remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_shares_its_lock_and_others_are_refused_with_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = StateLock::acquire(&state).unwrap();
        let pid = std::process::id();
        let text = fs::read_to_string(state.join(LOCK_FILE)).unwrap();
        assert_eq!(text, format!("{pid}\n"));
        // Another source of this process in the same directory (named another way).
        let second = StateLock::acquire(&dir.path().join("./state/")).unwrap();
        // What another process sees: its own open file of the lock conflicts.
        let other = File::open(state.join(LOCK_FILE)).unwrap();
        assert!(!try_lock_exclusive(&other).unwrap());
        drop(first);
        assert!(!try_lock_exclusive(&other).unwrap(), "still held by a user");
        drop(second);
        assert!(
            try_lock_exclusive(&other).unwrap(),
            "released by the last user"
        );
        // Now `other` holds it, as another process would: refused, naming the pid written.
        let err = StateLock::acquire(&state).unwrap_err();
        assert!(matches!(err, LockError::Busy { pid: Some(p), .. } if p == pid));
        assert_eq!(
            err.to_string(),
            format!(
                "state directory {} is in use by another oktaflow process (pid {pid}); stop it \
                 first, or give this run another state directory",
                state.display()
            )
        );
    }

    #[test]
    fn a_stale_lock_file_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        // Left by a process killed with SIGKILL: the file and its pid stay, the lock does not.
        fs::write(dir.path().join(LOCK_FILE), "4194304\n").unwrap();
        let lock = StateLock::acquire(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(lock);
    }

    #[test]
    fn a_file_is_not_a_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        for path in [file.clone(), file.join("below")] {
            let err = StateLock::acquire(&path).unwrap_err();
            assert!(matches!(err, LockError::NotADirectory { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "state directory {} is not a directory; give a directory (it is created \
                     if missing)",
                    path.display()
                )
            );
        }
    }
}

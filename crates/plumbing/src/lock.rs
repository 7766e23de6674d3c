//! Exclusive advisory locks on open files, so that two processes never write one state
//! directory or one output file at once.
//!
//! [`try_lock_exclusive`] takes the lock without waiting (`flock(2)` on Unix, through the
//! standard library's `File::try_lock`). The operating system releases it when the file is
//! closed or the process ends, however it ends (`kill -9` included), so a lock left by a dead
//! process never blocks a restart. [`lock_holder`] names the process holding a lock, where the
//! operating system tells (Linux `/proc/locks`), for the message that refuses the second one.

use std::fs::{File, TryLockError};
use std::io;

/// Takes an exclusive lock on `file` without waiting: `Ok(true)` when this process now holds
/// it, `Ok(false)` when another open file (of this or another process) holds a lock on it.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(error)) => Err(error),
    }
}

/// The process id of a holder of a lock on `file`, if the operating system says (Linux: the
/// `flock` entries of `/proc/locks` for the file's device and inode); `None` otherwise.
pub fn lock_holder(file: &File) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        holder_in(&locks, meta.dev(), meta.ino())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

/// The pid of the first granted `FLOCK` entry of `/proc/locks` text for device `dev` and
/// inode `ino` (lines such as `3: FLOCK  ADVISORY  WRITE 1234 fe:00:6088021 0 EOF`; waiting
/// entries, marked `->`, are skipped).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn holder_in(locks: &str, dev: u64, ino: u64) -> Option<u32> {
    // glibc's major()/minor() of a dev_t; the kernel prints them in hex, the inode in decimal.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    let wanted = format!("{major:02x}:{minor:02x}:{ino}");
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, id, ..] if *id == wanted => pid.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = File::create(&path).unwrap();
        assert!(try_lock_exclusive(&first).unwrap());
        // Another open file of the same process conflicts like another process would.
        let second = File::open(&path).unwrap();
        assert!(!try_lock_exclusive(&second).unwrap());
        #[cfg(target_os = "linux")]
        assert_eq!(lock_holder(&second), Some(std::process::id()));
        drop(first);
        assert!(try_lock_exclusive(&second).unwrap());
    }

    #[test]
    fn holders_are_read_by_device_and_inode() {
        let locks = "1: -> FLOCK  ADVISORY  WRITE 99 fe:00:42 0 EOF\n\
                     2: POSIX  ADVISORY  WRITE 7 fe:00:42 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 1234 fe:00:42 0 EOF\n\
                     4: FLOCK  ADVISORY  WRITE 55 fe:01:42 0 EOF\n";
        let dev = 0xfe00; // major 0xfe, minor 0
        assert_eq!(holder_in(locks, dev, 42), Some(1234));
        assert_eq!(holder_in(locks, dev + 1, 42), Some(55));
        assert_eq!(holder_in(locks, dev, 43), None);
    }
}

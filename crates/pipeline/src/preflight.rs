//! Checks made before any work starts, without creating or writing anything: whether the
//! state directory and a file sink's path are writable (asked of the operating system with
//! `access(2)`). `oktaflow check` reports them.

use std::io;
use std::path::{Path, PathBuf};

/// Checks that the state directory exists and is writable, or that it could be created;
/// `Ok(what was found)` or `Err(what is wrong)`, one line each.
pub fn state_dir_writable(dir: &Path) -> Result<String, String> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(String::from("exists but is not a directory")),
        Ok(_) => match writable_dir(dir) {
            Ok(()) => Ok(String::from("exists and is writable")),
            Err(e) => Err(format!("not writable ({e})")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => match existing_ancestor(dir) {
            Some(ancestor) => match writable_dir(&ancestor) {
                Ok(()) => Ok(format!(
                    "does not exist yet; `run` will create it in {}",
                    ancestor.display()
                )),
                Err(e) => Err(format!(
                    "does not exist and cannot be created: {} is not writable ({e})",
                    ancestor.display()
                )),
            },
            None => Err(String::from("no existing parent directory")),
        },
        Err(e) => Err(format!("cannot inspect it ({e})")),
    }
}

/// Checks that the file sink's `path` is writable, or that it could be created.
pub fn file_writable(path: &Path) -> Result<String, String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(String::from("is a directory, not a file")),
        Ok(meta) => match writable(path, false) {
            Ok(()) => Ok(format!("exists ({} bytes) and is writable", meta.len())),
            Err(e) => Err(format!("not writable ({e})")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            match std::fs::metadata(&parent) {
                Ok(meta) if meta.is_dir() => match writable_dir(&parent) {
                    Ok(()) => Ok(format!("will be created in {}", parent.display())),
                    Err(e) => Err(format!(
                        "directory {} is not writable ({e})",
                        parent.display()
                    )),
                },
                Ok(_) => Err(format!("{} is not a directory", parent.display())),
                Err(_) => Err(format!(
                    "directory {} does not exist; create it first",
                    parent.display()
                )),
            }
        }
        Err(e) => Err(format!("cannot inspect it ({e})")),
    }
}

/// The closest ancestor of `path` that exists (`.` for a relative path with none).
fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.is_dir())
        .map(Path::to_path_buf)
}

/// A directory in which files can be created.
fn writable_dir(dir: &Path) -> io::Result<()> {
    writable(dir, true)
}

/// Asks the OS whether this process may write `path` (and, for a directory, enter it).
#[cfg(unix)]
fn writable(path: &Path, directory: bool) -> io::Result<()> {
    use rustix::fs::Access;
    let mode = if directory {
        Access::WRITE_OK | Access::EXEC_OK
    } else {
        Access::WRITE_OK
    };
    rustix::fs::access(path, mode).map_err(io::Error::from)
}

/// Without `access(2)`: the read-only attribute.
#[cfg(not(unix))]
fn writable(path: &Path, _directory: bool) -> io::Result<()> {
    if std::fs::metadata(path)?.permissions().readonly() {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only"))
    } else {
        Ok(())
    }
}

//! Checks of what lives on this host: the state directory and the sinks. Nothing is created
//! or written: writability is asked of the operating system (`access(2)`).

use std::io;
use std::path::{Path, PathBuf};

use crate::config::SinkSpec;

use super::report::Row;

/// Checks that the state directory exists and is writable, or that `run` could create it.
pub fn check_state_dir(dir: &Path) -> Row {
    let subject = format!("state_dir {}", dir.display());
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            Row::fail(subject, "writable", "exists but is not a directory")
        }
        Ok(_) => match writable_dir(dir) {
            Ok(()) => Row::ok(subject, "writable", "exists and is writable"),
            Err(e) => Row::fail(subject, "writable", format!("not writable ({e})")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => match existing_ancestor(dir) {
            Some(ancestor) => match writable_dir(&ancestor) {
                Ok(()) => Row::ok(
                    subject,
                    "writable",
                    format!(
                        "does not exist yet; `run` will create it in {}",
                        ancestor.display()
                    ),
                ),
                Err(e) => Row::fail(
                    subject,
                    "writable",
                    format!(
                        "does not exist and cannot be created: {} is not writable ({e})",
                        ancestor.display()
                    ),
                ),
            },
            None => Row::fail(subject, "writable", "no existing parent directory"),
        },
        Err(e) => Row::fail(subject, "writable", format!("cannot inspect it ({e})")),
    }
}

/// Checks one sink without writing to it.
pub fn check_sink(sink: &SinkSpec) -> Row {
    let subject = format!("sink {sink}");
    #[allow(unreachable_patterns)] // sink kinds added later are reported as not checked
    match sink {
        SinkSpec::Stdout => Row::ok(subject, "writable", "standard output"),
        SinkSpec::File(file) => check_file(subject, &file.path),
        _ => Row::skipped(
            subject,
            "reachable",
            "not checked: no check for this sink kind",
        ),
    }
}

fn check_file(subject: String, path: &Path) -> Row {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Row::fail(subject, "writable", "is a directory, not a file"),
        Ok(meta) => match writable(path, false) {
            Ok(()) => Row::ok(
                subject,
                "writable",
                format!("exists ({} bytes) and is writable", meta.len()),
            ),
            Err(e) => Row::fail(subject, "writable", format!("not writable ({e})")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            match std::fs::metadata(&parent) {
                Ok(meta) if meta.is_dir() => match writable_dir(&parent) {
                    Ok(()) => Row::ok(
                        subject,
                        "writable",
                        format!("will be created in {}", parent.display()),
                    ),
                    Err(e) => Row::fail(
                        subject,
                        "writable",
                        format!("directory {} is not writable ({e})", parent.display()),
                    ),
                },
                Ok(_) => Row::fail(
                    subject,
                    "writable",
                    format!("{} is not a directory", parent.display()),
                ),
                Err(_) => Row::fail(
                    subject,
                    "writable",
                    format!(
                        "directory {} does not exist; create it first",
                        parent.display()
                    ),
                ),
            }
        }
        Err(e) => Row::fail(subject, "writable", format!("cannot inspect it ({e})")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_cmd::report::Status;

    #[test]
    fn state_dir_rows() {
        let dir = tempfile::tempdir().unwrap();
        let row = check_state_dir(dir.path());
        assert_eq!(row.status, Status::Ok, "{row:?}");
        assert_eq!(row.detail, "exists and is writable");

        let missing = dir.path().join("a/b/state");
        let row = check_state_dir(&missing);
        assert_eq!(row.status, Status::Ok, "{row:?}");
        assert!(row.detail.contains("will create it"), "{row:?}");
        assert!(!missing.exists() && !dir.path().join("a").exists());

        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let row = check_state_dir(&file);
        assert_eq!(row.status, Status::Fail);
        assert_eq!(row.detail, "exists but is not a directory");
    }

    #[test]
    fn file_sink_rows() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("out.ndjson");
        let row = check_sink(&SinkSpec::File(new.clone().into()));
        assert_eq!(row.status, Status::Ok, "{row:?}");
        assert!(row.detail.starts_with("will be created in "), "{row:?}");
        assert!(!new.exists());

        std::fs::write(&new, "{}\n").unwrap();
        let row = check_sink(&SinkSpec::File(new.clone().into()));
        assert_eq!(row.status, Status::Ok);
        assert_eq!(row.detail, "exists (3 bytes) and is writable");
        assert_eq!(std::fs::read(&new).unwrap(), b"{}\n", "nothing written");

        let row = check_sink(&SinkSpec::File(dir.path().join("nope/out.ndjson").into()));
        assert_eq!(row.status, Status::Fail);
        assert!(
            row.detail.contains("does not exist; create it first"),
            "{row:?}"
        );

        let row = check_sink(&SinkSpec::File(dir.path().to_path_buf().into()));
        assert_eq!(row.status, Status::Fail);

        let row = check_sink(&SinkSpec::Stdout);
        assert_eq!(
            (row.status, row.subject.as_str()),
            (Status::Ok, "sink stdout")
        );
    }
}

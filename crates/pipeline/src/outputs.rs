//! Which local files the sinks write ([`Sink::file`]): never one of the state directory's own
//! files (a checkpoint, a dead-letter file, the lock file), and never one file by two sinks,
//! however the paths are spelled (`./x` and `x`, a symlink, a hard link). Checked before any
//! work, without creating anything.
//!
//! Two paths name one file when their canonical paths are equal (symlinks followed; for a file
//! not yet created, the canonical parent directory joined with its name, a dangling symlink
//! followed by hand) or, for files that exist, when they have the same device and inode.

use std::fs;
use std::path::{Component, Path, PathBuf};

use oktaflow_sink::Sink;

use crate::lock::LOCK_FILE;

/// Symlinks followed by hand at most (as the kernel's `ELOOP` limit).
const MAX_LINKS: usize = 40;

/// A file as the operating system knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    /// The canonical path (see the [module documentation](self)).
    pub path: PathBuf,
    /// Device and inode, when the file exists.
    pub inode: Option<(u64, u64)>,
}

impl FileId {
    /// The identity of `path` (never fails: what cannot be resolved stays as given, made
    /// absolute).
    pub fn of(path: &Path) -> FileId {
        let path = resolve(path);
        FileId {
            inode: fs::metadata(&path).ok().and_then(|m| inode(&m)),
            path,
        }
    }

    /// Whether both name one file.
    pub fn same(&self, other: &FileId) -> bool {
        self.path == other.path || (self.inode.is_some() && self.inode == other.inode)
    }
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn inode(_: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// The canonical form of `path`, also when it (or its last directories) does not exist yet.
fn resolve(path: &Path) -> PathBuf {
    let mut path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    for _ in 0..MAX_LINKS {
        if let Ok(canonical) = fs::canonicalize(&path) {
            return canonical;
        }
        // A dangling symlink (to a file not yet created) names its target.
        match fs::read_link(&path) {
            Ok(target) => {
                path = path
                    .parent()
                    .map_or(target.clone(), |dir| dir.join(&target))
            }
            Err(_) => break,
        }
    }
    // Component by component: what exists is canonicalized, the rest taken as written
    // (`..` in it removes the component before).
    let mut resolved = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => {
                resolved.push(other);
                if let Ok(canonical) = fs::canonicalize(&resolved) {
                    resolved = canonical;
                }
            }
        }
    }
    resolved
}

/// Whether `name` is the name of a file oktaflow keeps in a state directory: the lock file,
/// a checkpoint (`<source>.checkpoint.json`) or its temporary file, a dead-letter file
/// (`dead-letter.ndjson`, `dead-letter.<source>.ndjson`).
pub fn is_state_file_name(name: &str) -> bool {
    name == LOCK_FILE
        || name.ends_with(".checkpoint.json")
        || name.ends_with(".checkpoint.json.tmp")
        || (name.starts_with("dead-letter") && name.ends_with(".ndjson"))
}

/// Refuses, with one line, a sink whose file is one of `state_dir`'s files, or two sinks
/// writing one file. Creates nothing.
pub fn check_sink_files(state_dir: &Path, sinks: &[Box<dyn Sink>]) -> Result<(), String> {
    let files: Vec<(&str, FileId)> = sinks
        .iter()
        .filter_map(|sink| sink.file().map(|file| (sink.name(), FileId::of(file))))
        .collect();
    let state = resolve(state_dir);
    let state_files: Vec<FileId> = fs::read_dir(&state)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_str().is_some_and(is_state_file_name))
                .map(|e| FileId::of(&e.path()))
                .collect()
        })
        .unwrap_or_default();
    for (i, (name, file)) in files.iter().enumerate() {
        let in_state_dir = file.path.parent() == Some(state.as_path())
            && file
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_state_file_name);
        if let Some(hit) = state_files.iter().find(|s| s.same(file)) {
            return Err(state_file(name, &hit.path));
        }
        if in_state_dir {
            return Err(state_file(name, &file.path));
        }
        if let Some((other, _)) = files[..i].iter().find(|(_, f)| f.same(file)) {
            return Err(format!(
                "sinks {other} and {name} write the same file {}; list each file once",
                file.path.display()
            ));
        }
    }
    Ok(())
}

fn state_file(sink: &str, path: &Path) -> String {
    format!(
        "sink {sink} would write {}, a file of the state directory (checkpoint, dead-letter or \
         lock file); write events to another file",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use oktaflow_sink::{ExistingFile, FileSink};

    use super::*;

    fn file_sinks(paths: &[PathBuf]) -> Vec<Box<dyn Sink>> {
        paths
            .iter()
            .map(|p| Box::new(FileSink::new(p, ExistingFile::Refuse).unwrap()) as Box<dyn Sink>)
            .collect()
    }

    #[test]
    fn a_sink_on_a_state_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        for name in [
            "okta.checkpoint.json",
            ".okta.checkpoint.json.tmp",
            "dead-letter.ndjson",
            "dead-letter.acme.ndjson",
            LOCK_FILE,
        ] {
            // Before the state directory exists, and spelled with `./` and `..`.
            let path = dir.path().join("./state/../state").join(name);
            let err = check_sink_files(&state, &file_sinks(&[path])).unwrap_err();
            assert!(
                err.contains(", a file of the state directory") && err.contains(name),
                "{err}"
            );
        }
        std::fs::create_dir(&state).unwrap();
        std::fs::write(state.join("okta.checkpoint.json"), "{}").unwrap();
        // Through a symlink and through a hard link elsewhere.
        let link = dir.path().join("link.ndjson");
        std::os::unix::fs::symlink(state.join("okta.checkpoint.json"), &link).unwrap();
        let hard = dir.path().join("hard.ndjson");
        std::fs::hard_link(state.join("okta.checkpoint.json"), &hard).unwrap();
        for path in [link, hard] {
            let err = check_sink_files(&state, &file_sinks(&[path])).unwrap_err();
            assert!(err.contains("okta.checkpoint.json"), "{err}");
        }
        // Other files, also in the state directory, are fine.
        let fine = [dir.path().join("out.ndjson"), state.join("events.ndjson")];
        check_sink_files(&state, &file_sinks(&fine)).unwrap();
    }

    #[test]
    fn one_file_named_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let out = dir.path().join("out.ndjson");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("alias")).unwrap();
        // Not created yet: a symlinked directory, `..`, and a dangling symlink to it.
        std::os::unix::fs::symlink(&out, dir.path().join("link.ndjson")).unwrap();
        let spellings = [
            dir.path().join("alias/out.ndjson"),
            dir.path().join("sub/../out.ndjson"),
            dir.path().join("link.ndjson"),
        ];
        for other in &spellings {
            let err =
                check_sink_files(&state, &file_sinks(&[out.clone(), other.clone()])).unwrap_err();
            assert!(err.contains("write the same file"), "{other:?}: {err}");
        }
        // Existing: a hard link too.
        std::fs::write(&out, "").unwrap();
        let hard = dir.path().join("hard.ndjson");
        std::fs::hard_link(&out, &hard).unwrap();
        for other in spellings.iter().chain([&hard]) {
            let err =
                check_sink_files(&state, &file_sinks(&[out.clone(), other.clone()])).unwrap_err();
            let canonical = std::fs::canonicalize(&out).unwrap();
            assert!(
                err.ends_with(&format!(
                    "write the same file {}; list each file once",
                    if other == &hard {
                        std::fs::canonicalize(&hard).unwrap()
                    } else {
                        canonical
                    }
                    .display()
                )),
                "{other:?}: {err}"
            );
        }
        let two = [out, dir.path().join("other.ndjson")];
        check_sink_files(&state, &file_sinks(&two)).unwrap();
    }
}

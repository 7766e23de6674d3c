//! File steps shared by the state kept beside the checkpoint (the detector state and the
//! push de-duplication window): generation files named `<source>.<kind>-G.<ext>`, journals
//! appended at the end the last checkpoint names, and the one-line I/O errors.

use std::fs::{self, File};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::Path;

use crate::checkpoint::CheckpointError;

/// Maps an I/O error of `action` on `path` to a [`CheckpointError`] naming both.
pub(crate) fn io(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io {
        path,
        action,
        source,
    }
}

/// The generations `G` of the files `<prefix>G<suffix>` in `dir`, for any of `suffixes`,
/// each once, in directory order.
pub(crate) fn generations(
    dir: &Path,
    prefix: &str,
    suffixes: &[&str],
) -> Result<Vec<u64>, CheckpointError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).map_err(io("listing", dir))?;
    for entry in entries {
        let entry = entry.map_err(io("listing", dir))?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let generation = suffixes
            .iter()
            .find_map(|suffix| rest.strip_suffix(suffix))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(generation) = generation {
            if !found.contains(&generation) {
                found.push(generation);
            }
        }
    }
    Ok(found)
}

/// Removes `path`; one that is already gone is fine.
pub(crate) fn remove_if_present(path: &Path) -> Result<(), CheckpointError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("removing", path)(e)),
    }
}

/// Makes the creation or removal of files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io("syncing the directory", dir))
}

/// Writes `bytes` at `start` of the journal `file` (at `path`) and syncs it: whatever a failed
/// attempt left past `start` (the end the last checkpoint names) is overwritten.
pub(crate) fn append_at(
    file: &mut File,
    path: &Path,
    start: u64,
    bytes: &[u8],
) -> Result<(), CheckpointError> {
    file.set_len(start).map_err(io("cutting back", path))?;
    file.seek(SeekFrom::Start(start))
        .map_err(io("seeking in", path))?;
    file.write_all(bytes).map_err(io("appending to", path))?;
    file.sync_data().map_err(io("syncing", path))
}

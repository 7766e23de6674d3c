//! Names of rotated files: `okta.ndjson` → `okta.000003.ndjson` (`events` → `events.000003`).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

/// Digits of a segment number in a rotated file's name (zero-padded; more when needed).
const WIDTH: usize = 6;

/// The path of segment `segment` of the stream whose active file is `active`, once it has
/// been rotated: the sequence number goes between the file's stem and its extension,
/// zero-padded to six digits (`/var/log/okta.ndjson`, 3 → `/var/log/okta.000003.ndjson`;
/// `events`, 12 → `events.000012`). Numbers start at 1 and grow by one per rotation; past
/// 999999 they take more digits, so readers should order rotated files by number rather
/// than by name.
pub fn rotated_path(active: &Path, segment: u64) -> PathBuf {
    active.with_file_name(rotated_name(active, segment))
}

fn rotated_name(active: &Path, segment: u64) -> String {
    let stem = active
        .file_stem()
        .map(OsStr::to_string_lossy)
        .unwrap_or_default();
    match active.extension() {
        Some(ext) => format!("{stem}.{segment:0WIDTH$}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{segment:0WIDTH$}"),
    }
}

/// The segment number of `name` if it is exactly the rotated name of that segment of
/// `active` (so `okta.3.ndjson` or `okta.0000003.ndjson` are not taken for segment 3).
fn segment_of(active: &Path, name: &OsStr) -> Option<u64> {
    let name = name.to_str()?;
    let stem = active.file_stem()?.to_str()?;
    let rest = name.strip_prefix(stem)?.strip_prefix('.')?;
    let digits = match active.extension() {
        Some(ext) => rest.strip_suffix(ext.to_str()?)?.strip_suffix('.')?,
        None => rest,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let segment: u64 = digits.parse().ok()?;
    (segment >= 1 && rotated_name(active, segment) == name).then_some(segment)
}

/// The numbers of the rotated files of `active` that exist in its directory (none when the
/// directory does not exist).
pub(crate) async fn list_rotated(active: &Path) -> io::Result<BTreeSet<u64>> {
    let mut found = BTreeSet::new();
    let Some(dir) = active.parent() else {
        return Ok(found);
    };
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    while let Some(entry) = entries.next_entry().await? {
        if let Some(segment) = segment_of(active, &entry.file_name()) {
            found.insert(segment);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_put_the_number_between_stem_and_extension() {
        let active = Path::new("/var/log/okta.ndjson");
        assert_eq!(
            rotated_path(active, 3),
            Path::new("/var/log/okta.000003.ndjson")
        );
        assert_eq!(
            rotated_path(Path::new("out/okta.prod.ndjson"), 1_234_567),
            Path::new("out/okta.prod.1234567.ndjson")
        );
        assert_eq!(
            rotated_path(Path::new("events"), 12),
            Path::new("events.000012")
        );
    }

    #[test]
    fn only_exact_rotated_names_are_recognized() {
        let active = Path::new("/d/okta.ndjson");
        let of = |name: &str| segment_of(active, OsStr::new(name));
        assert_eq!(of("okta.000003.ndjson"), Some(3));
        assert_eq!(of("okta.1234567.ndjson"), Some(1_234_567));
        for other in [
            "okta.ndjson",
            "okta.3.ndjson",
            "okta.0000003.ndjson",
            "okta.000000.ndjson",
            "okta.00000a.ndjson",
            "okta.000003.json",
            "okta.000003.ndjson.gz",
            "xokta.000003.ndjson",
            "okta..ndjson",
        ] {
            assert_eq!(of(other), None, "{other}");
        }
        let bare = Path::new("/d/events");
        assert_eq!(segment_of(bare, OsStr::new("events.000002")), Some(2));
        assert_eq!(segment_of(bare, OsStr::new("events.000002.gz")), None);
    }

    #[tokio::test]
    async fn lists_the_rotated_files_beside_the_active_one() {
        let dir = tempfile::tempdir().unwrap();
        let active = dir.path().join("okta.ndjson");
        assert!(list_rotated(&active).await.unwrap().is_empty());
        for name in [
            "okta.000002.ndjson",
            "okta.000010.ndjson",
            "okta.ndjson",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(
            list_rotated(&active)
                .await
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [2, 10]
        );
        let missing = dir.path().join("nope/okta.ndjson");
        assert!(list_rotated(&missing).await.unwrap().is_empty());
    }
}

//! [`Checkpoint`] and [`CheckpointStore`]: the atomically written resume point of a source.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use oktaflow_fetch::{OrgUrl, SourceState};

/// The checkpoint format version written by this build.
pub const CHECKPOINT_VERSION: u32 = 1;

/// What a source has made durable: its cursor(s) and each sink's position.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format version ([`CHECKPOINT_VERSION`]).
    pub version: u32,
    /// Where fetching resumes.
    pub source: SourceState,
    /// Each sink's position, keyed by sink name (`Sink::name`).
    pub sinks: BTreeMap<String, serde_json::Value>,
    /// When it was written.
    pub updated_at: DateTime<Utc>,
    /// The detectors' state after the events the checkpoint covers (windows, counters, last
    /// known locations), saved in the same atomic write as the cursor and the sink positions.
    /// Absent when detections are off, and in checkpoints written before they existed
    /// (those still load: the detector then starts empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect: Option<oktaflow_detect::DetectorState>,
    /// The detectors' state kept in files beside the checkpoint (a whole state and a journal
    /// of changes, [`crate::detect_store`]): the generation and the journal length this
    /// checkpoint covers. What the pipeline writes since the state grew beyond what can be
    /// rewritten with every batch; `detect` above is still read from older checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_files: Option<crate::detect_store::DetectStateRef>,
    /// A push source's de-duplication window: the ids of the events it made durable most
    /// recently, saved in the same atomic write, so a redelivery after a crash is dropped.
    /// Absent for polling sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushState>,
    /// A push source's de-duplication window kept in journals beside the checkpoint
    /// ([`crate::dedup_store`]): the generation and lengths this checkpoint covers. What the
    /// pipeline writes since rewriting the whole window with every batch cost ~8 MB per
    /// checkpoint; `push` above is still read from older checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_files: Option<crate::dedup_store::DedupStateRef>,
    /// A push source's gap filling: the latest `published` committed and the intervals still
    /// to fetch from the API ([`crate::gap`]). Absent without gap filling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<crate::gap::StreamState>,
}

/// What a push source keeps in its checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PushState {
    /// Event ids (Okta `uuid`) already made durable, oldest first (bounded by the source's
    /// window).
    pub seen: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint of the current version, stamped now.
    pub fn new(source: SourceState, sinks: BTreeMap<String, serde_json::Value>) -> Checkpoint {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            source,
            sinks,
            updated_at: Utc::now(),
            detect: None,
            detect_files: None,
            push: None,
            push_files: None,
            stream: None,
        }
    }

    /// This checkpoint with a push source's de-duplication window.
    pub fn with_push(mut self, push: Option<PushState>) -> Checkpoint {
        self.push = push;
        self
    }

    /// This checkpoint with the detectors' state after the events it covers.
    pub fn with_detect(mut self, state: Option<oktaflow_detect::DetectorState>) -> Checkpoint {
        self.detect = state;
        self
    }

    /// This checkpoint naming the detectors' state files that hold the state after the
    /// events it covers.
    pub fn with_detect_files(
        mut self,
        files: Option<crate::detect_store::DetectStateRef>,
    ) -> Checkpoint {
        self.detect_files = files;
        self
    }
}

/// A checkpoint could not be read or written. Messages name the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The source name cannot be a file name.
    #[error(
        "invalid source name `{0}` for a checkpoint file; use letters, digits, '.', '_' or '-'"
    )]
    InvalidName(String),
    /// I/O failure.
    #[error("checkpoint {path}: {action} failed: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists but is not a checkpoint.
    #[error("checkpoint {path} is corrupt ({detail}); fix it, or move it away to start again from start_from")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        detail: String,
    },
    /// Saved for another Okta org than the source's (its cursor means nothing there).
    #[error(
        "checkpoint {path} belongs to {recorded}, not {configured}; to start fresh for \
         {configured}, move {path} away (and a file sink's output file with it), or give this \
         run another state directory"
    )]
    OtherOrg {
        /// The file.
        path: PathBuf,
        /// The org it was saved for (host or host:port).
        recorded: String,
        /// The org configured now.
        configured: String,
    },
    /// Written by a newer oktaflow.
    #[error("checkpoint {path} has version {found}, this oktaflow reads version {CHECKPOINT_VERSION}; upgrade oktaflow")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
}

/// One source's checkpoint file, `<state_dir>/<source_name>.checkpoint.json`.
///
/// `save` is atomic and durable: write a temporary file, fsync it, rename it over the old
/// one, fsync the directory. A crash leaves either the old or the new checkpoint. The methods
/// do blocking file I/O (small files); async callers may use `spawn_blocking`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
}

impl CheckpointStore {
    /// The store for `source_name` in `dir` (created if missing).
    pub fn new(
        dir: impl Into<PathBuf>,
        source_name: &str,
    ) -> Result<CheckpointStore, CheckpointError> {
        let valid = !source_name.is_empty()
            && !source_name.starts_with('.')
            && source_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(CheckpointError::InvalidName(source_name.to_string()));
        }
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            path: dir.clone(),
            action: "creating the state directory",
            source,
        })?;
        Ok(CheckpointStore {
            path: dir.join(format!("{source_name}.checkpoint.json")),
            tmp: dir.join(format!(".{source_name}.checkpoint.json.tmp")),
            dir,
        })
    }

    /// The state directory the checkpoint is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved checkpoint; `None` when there is none yet (first run). A file that is not a
    /// valid checkpoint is an error, never a silent restart.
    pub fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: self.path.clone(),
                    action: "reading",
                    source,
                })
            }
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| self.corrupt(e))?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v == u64::from(CHECKPOINT_VERSION) => {}
            Some(found) if found > u64::from(CHECKPOINT_VERSION) => {
                return Err(CheckpointError::UnsupportedVersion {
                    path: self.path.clone(),
                    found,
                })
            }
            Some(found) => {
                return Err(CheckpointError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("unknown version {found}"),
                })
            }
            None => {
                return Err(CheckpointError::Corrupt {
                    path: self.path.clone(),
                    detail: "no version".into(),
                })
            }
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| self.corrupt(e))
    }

    /// [`load`](Self::load), refusing a checkpoint saved for another org than `org` (before
    /// anything uses it: its cursor would be sent to the wrong org).
    pub fn load_for(&self, org: &OrgUrl) -> Result<Option<Checkpoint>, CheckpointError> {
        match self.load()? {
            Some(checkpoint) if !checkpoint.source.belongs_to(org) => {
                Err(CheckpointError::OtherOrg {
                    path: self.path.clone(),
                    recorded: checkpoint.source.org,
                    configured: org.label().to_string(),
                })
            }
            loaded => Ok(loaded),
        }
    }

    fn corrupt(&self, error: serde_json::Error) -> CheckpointError {
        CheckpointError::Corrupt {
            path: self.path.clone(),
            detail: error.to_string(),
        }
    }

    /// Writes `checkpoint` atomically and durably (temp file, fsync, rename, fsync directory).
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io {
                path,
                action,
                source,
            }
        };
        let mut bytes = serde_json::to_vec_pretty(checkpoint).map_err(|e| CheckpointError::Io {
            path: self.path.clone(),
            action: "serializing",
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.tmp)
            .map_err(io("creating the temporary file", &self.tmp))?;
        file.write_all(&bytes).map_err(io("writing", &self.tmp))?;
        file.sync_all().map_err(io("syncing", &self.tmp))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(io("renaming into place", &self.path))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io("syncing the directory", &self.dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(next: &str) -> Checkpoint {
        let mut state =
            SourceState::polling("acme.okta.com", "2024-01-01T00:00:00Z".parse().unwrap());
        state.next = Some(next.to_string());
        let mut sinks = BTreeMap::new();
        sinks.insert("file:/tmp/x".to_string(), serde_json::json!({"offset": 42}));
        Checkpoint::new(state, sinks)
    }

    #[test]
    fn first_run_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path().join("state"), "okta").unwrap();
        assert!(store.load().unwrap().is_none());
        assert!(dir.path().join("state").is_dir());
    }

    #[test]
    fn save_then_load_and_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "okta").unwrap();
        let first = checkpoint("/api/v1/logs?after=1");
        store.save(&first).unwrap();
        assert_eq!(store.load().unwrap(), Some(first));
        let second = checkpoint("/api/v1/logs?after=2");
        store.save(&second).unwrap();
        assert_eq!(store.load().unwrap(), Some(second));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["okta.checkpoint.json"],
            "no temporary file left behind"
        );
    }

    #[test]
    fn detector_state_is_saved_with_the_checkpoint_and_old_checkpoints_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "okta").unwrap();
        // A checkpoint written before detections existed: no `detect` member.
        let old = checkpoint("/api/v1/logs?after=1");
        let mut text = serde_json::to_value(&old).unwrap();
        assert!(text.get("detect").is_none(), "absent when off: {text}");
        text.as_object_mut().unwrap().remove("detect");
        fs::write(store.path(), text.to_string()).unwrap();
        assert_eq!(store.load().unwrap().unwrap().detect, None);

        let mut state = oktaflow_detect::DetectorState {
            version: oktaflow_detect::STATE_VERSION,
            ..Default::default()
        };
        state.rules.insert(
            "okta.brute_force_logins".into(),
            serde_json::json!({"alice": [1, 2, 3]}),
        );
        let saved = checkpoint("/api/v1/logs?after=2").with_detect(Some(state.clone()));
        store.save(&saved).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.detect, Some(state));
        assert_eq!(loaded, saved);
    }

    #[test]
    fn a_stale_temp_file_does_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "okta").unwrap();
        let saved = checkpoint("/api/v1/logs?after=1");
        store.save(&saved).unwrap();
        // A crash between write and rename leaves a half-written temp file.
        fs::write(dir.path().join(".okta.checkpoint.json.tmp"), b"{\"vers").unwrap();
        assert_eq!(store.load().unwrap(), Some(saved.clone()));
        store.save(&saved).unwrap();
        assert_eq!(store.load().unwrap(), Some(saved));
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "okta").unwrap();
        fs::write(store.path(), b"{\"version\":1,\"source\":").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, CheckpointError::Corrupt { .. }));
        let text = err.to_string();
        assert!(
            text.contains("is corrupt") && text.contains("okta.checkpoint.json"),
            "{text}"
        );
        fs::write(
            store.path(),
            b"{\"version\":1,\"source\":{},\"sinks\":{},\"updated_at\":\"x\"}",
        )
        .unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            CheckpointError::Corrupt { .. }
        ));
        fs::write(store.path(), b"[]").unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            CheckpointError::Corrupt { .. }
        ));
        fs::write(store.path(), b"{\"version\":99}").unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            CheckpointError::UnsupportedVersion { found: 99, .. }
        ));
    }

    #[test]
    fn a_checkpoint_of_another_org_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "okta").unwrap();
        let org = |url: &str| OrgUrl::from_base_url(url).unwrap();
        assert_eq!(store.load_for(&org("https://acme.okta.com")).unwrap(), None);
        let saved = checkpoint("/api/v1/logs?after=1");
        store.save(&saved).unwrap();
        assert_eq!(
            store.load_for(&org("https://acme.okta.com")).unwrap(),
            Some(saved)
        );
        let err = store.load_for(&org("https://globex.okta.com")).unwrap_err();
        let path = store.path().display();
        assert_eq!(
            err.to_string(),
            format!(
                "checkpoint {path} belongs to acme.okta.com, not globex.okta.com; to start \
                 fresh for globex.okta.com, move {path} away (and a file sink's output file \
                 with it), or give this run another state directory"
            )
        );
    }

    #[test]
    fn names_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(
                matches!(
                    CheckpointStore::new(dir.path(), bad),
                    Err(CheckpointError::InvalidName(_))
                ),
                "{bad}"
            );
        }
        assert!(CheckpointStore::new(dir.path(), "acme.okta.com_prod-1").is_ok());
    }
}

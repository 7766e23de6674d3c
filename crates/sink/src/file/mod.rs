//! [`FileSink`]: NDJSON into a local file, exactly once through a committed offset, with
//! optional rotation by size and by time ([`Rotation`]).
//!
//! # Without rotation
//!
//! Each batch is appended and fsynced before it is acknowledged with the position
//! `{"path": "<absolute path>", "offset": <committed bytes>}`. Recovery truncates the file to
//! the checkpointed offset, so a restart after a crash at any instant writes every event
//! exactly once.
//!
//! **Lock and creation.** The active file is locked (an exclusive `flock`, held while it is
//! open) before anything in it is read or changed: another process (or another sink) writing
//! the same file is refused with [`SinkError::Locked`], naming the holder's pid where the
//! operating system tells. The operating system releases the lock when the process ends, so a
//! `kill -9` never leaves a lock behind. A file that does not exist at recovery is created
//! (and locked) by the first batch that has documents, so a run refused or halted before its
//! first event leaves no empty file; if it has appeared with data by then, the batch is
//! refused ([`SinkError::UnrecordedData`]).
//!
//! # With rotation
//!
//! The configured path is always the *active* file. When a rotation is due, the active file
//! is renamed to its numbered name ([`rotated_path`]: `okta.ndjson` → `okta.000003.ndjson`)
//! and a new, empty active file is created. Segments are numbered from 1 (the first active
//! file) up by one per rotation; the position names the active segment:
//! `{"path", "segment": N, "offset": <committed bytes of segment N>, "started_at": "<UTC>"}`
//! (`started_at`: when the segment's first batch was written, so a restart keeps its age).
//!
//! **When.** Only at a batch boundary, at the start of [`write_batch`](Sink::write_batch)
//! with a non-empty batch: if the active file's committed size reached `rotate_size`, or its
//! first batch was written `rotate_interval` ago or longer, the batch goes to a new file. A
//! batch is never split and an empty file is never rotated (so a segment may exceed
//! `rotate_size` by up to one batch, and an idle stream creates no files). The pipeline
//! saves the checkpoint of a batch before it writes the next one, so everything in the file
//! being rotated is already checkpointed.
//!
//! **The sequence** for active segment N: (1) refuse if `okta.<N>.ndjson` exists already;
//! (2) rename `okta.ndjson` → `okta.<N>.ndjson`; (3) create an empty `okta.ndjson` and fsync
//! the directory, which makes (2) and (3) durable before any byte of the batch is written;
//! (4) delete the oldest rotated files beyond `rotate_keep`; (5) append the batch, fsync,
//! acknowledge `{segment: N+1, offset}`. A failure after (2) leaves the sink resumable: the
//! next attempt creates the file again.
//!
//! **Recovery** from `{segment: N, offset: O}` (an old `{path, offset}` is segment 1, and
//! without rotation configured it is recovered exactly as before):
//! * `okta.<N>.ndjson` exists: the rotation of segment N began after the checkpoint (the
//!   rename happened, and perhaps the creation and a write). That file must hold exactly O
//!   bytes (the pipeline checkpoints a batch before it writes the next, so a file is rotated
//!   only once all of it is checkpointed; anything else is refused) and is kept as it is;
//!   rotated files numbered above N are removed, and `okta.ndjson` is emptied (or created):
//!   it is segment N+1 with nothing committed.
//! * otherwise `okta.ndjson` is segment N: truncated to O; refused if it is shorter or
//!   missing (created if missing and O is 0), and refused if a rotated file numbered above N
//!   exists (nothing can have rotated a later segment without rotating N first).
//!
//! Truncations are fsynced and so is the directory after a creation or removal. Each step
//! is idempotent, so a crash during recovery is recovered the same way. Without a
//! checkpoint, rotated files count as existing data ([`ExistingFile`]): refused by default,
//! and with `Append` or `Truncate` numbering continues after the highest one found.
//!
//! **Why rename the active file** rather than write every segment under its numbered name:
//! the configured path stays the live file, as without rotation, so `tail -F` and log
//! shippers that follow a path across renames (logrotate's default scheme) keep working and
//! turning rotation on changes nothing for them; a numbered file is complete the moment it
//! appears (the rename is atomic), so a glob of numbered names never picks a file being
//! written. **Why only a sequence number** in the names (no timestamp): the name of segment N
//! follows from the path and N alone, so recovery finds it from the checkpoint without
//! guessing (the directory is listed only for files that must not be there); the times are
//! in the events and the files' mtimes.
//!
//! **Readers**: the rotated files in number order, then the active file, are the stream in
//! order. A rotated file is complete and never written again, not even by recovery (only
//! `rotate_keep` deletes it); the active file's tail after the checkpointed offset may be
//! taken back by recovery.

mod config;
mod segments;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio::fs::File;
use tracing::warn;

use crate::{Ack, Document, Sink, SinkError};

pub use config::{FileConfig, Rotation};
use segments::list_rotated;
pub use segments::rotated_path;

/// What [`FileSink::recover`](Sink::recover) does when there is no checkpoint
/// position yet but the output file (or, with rotation, a rotated file) already holds data.
///
/// The default is [`Refuse`](ExistingFile::Refuse): data that no checkpoint accounts
/// for most often means the state directory was lost (or another one given) while the
/// file was kept, and a run from the configured start point would then write events
/// the file already holds a second time. Refusing turns that silent duplication into a
/// one-line error the operator can act on; [`Append`](ExistingFile::Append) and
/// [`Truncate`](ExistingFile::Truncate) are the two explicit ways forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExistingFile {
    /// Fail with [`SinkError::UnrecordedData`].
    #[default]
    Refuse,
    /// Keep the existing bytes and append after them (they stay outside oktaflow's
    /// accounting: the operator vouches that they do not overlap the new run). Rotated
    /// files are kept; numbering continues after the highest.
    Append,
    /// Empty the active file and start fresh (rotated files are kept; numbering continues
    /// after the highest).
    Truncate,
}

/// Writes documents as NDJSON (one document per line) to a file, optionally rotated.
///
/// Each batch is appended and `fsync`ed (`sync_data`) before it is acknowledged; the
/// position is `{"path": "<absolute path>", "offset": <committed bytes>}`, and with
/// rotation also the active `"segment"` and its `"started_at"` (the rotation sequence and
/// the recovery rules are in the documentation of `crates/sink/src/file/mod.rs`). Recovery
/// from a position truncates the file to that offset, removing lines that were written but
/// never checkpointed, so a restart after a crash at any instant writes every event exactly
/// once.
#[derive(Debug)]
pub struct FileSink {
    name: String,
    path: PathBuf,
    existing: ExistingFile,
    rotation: Rotation,
    clock: Clock,
    /// Whether positions carry a segment number: rotation is configured, or the sink was
    /// recovered from a position that has one (numbering never starts over).
    segmented: bool,
    /// The active segment; `None` before a successful recovery or after a failed write
    /// that could not be rolled back.
    active: Option<Active>,
    buf: Vec<u8>,
}

/// The segment being written.
#[derive(Debug)]
struct Active {
    /// Its number (1 for the first file, and always without rotation).
    segment: u64,
    /// Bytes of it that are durable and accounted for.
    committed: u64,
    /// When its first batch was written (`None` while it is empty).
    started_at: Option<DateTime<Utc>>,
    /// Open for appending and locked; `None` while the file still has to be created (a
    /// rotation renamed the previous segment but could not create this one, or the file did
    /// not exist at recovery).
    file: Option<File>,
    /// The file did not exist at recovery: it is created by the first non-empty batch (so a
    /// run that writes nothing leaves no file), and refused if it has appeared with data.
    missing: bool,
}

impl Active {
    /// Segment `segment`, whose file does not exist yet and has nothing committed.
    fn missing(segment: u64) -> Active {
        Active {
            segment,
            committed: 0,
            started_at: None,
            file: None,
            missing: true,
        }
    }
}

/// Where the sink reads the time (injected in tests).
#[derive(Clone)]
struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// A position as recorded in a checkpoint.
struct Recorded {
    /// `None` for the format without rotation (`{"path", "offset"}`).
    segment: Option<u64>,
    offset: u64,
    started_at: Option<DateTime<Utc>>,
}

impl FileSink {
    /// A sink writing to `path` (made absolute against the current directory, so the
    /// recorded position names the file unambiguously), without rotation. Nothing is
    /// opened until [`recover`](Sink::recover).
    pub fn new(path: impl AsRef<Path>, existing: ExistingFile) -> io::Result<FileSink> {
        let path = std::path::absolute(path.as_ref())?;
        Ok(FileSink {
            name: format!("file:{}", path.display()),
            path,
            existing,
            rotation: Rotation::default(),
            clock: Clock::system(),
            segmented: false,
            active: None,
            buf: Vec::new(),
        })
    }

    /// The same sink, rotating its file as `rotation` says.
    pub fn with_rotation(mut self, rotation: Rotation) -> FileSink {
        self.rotation = rotation;
        self
    }

    /// The absolute path of the (active) output file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the active output file that are durable and accounted for.
    pub fn committed_offset(&self) -> u64 {
        self.active.as_ref().map_or(0, |a| a.committed)
    }

    /// The number of the active segment (1 without rotation); `None` before recovery.
    pub fn segment(&self) -> Option<u64> {
        self.active.as_ref().map(|a| a.segment)
    }

    fn position(&self, active: &Active) -> Value {
        let path = self.path.to_string_lossy();
        if !self.segmented {
            return json!({ "path": path, "offset": active.committed });
        }
        let mut position =
            json!({ "path": path, "segment": active.segment, "offset": active.committed });
        if let Some(started) = active.started_at {
            position["started_at"] = json!(started.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        position
    }

    fn io(&self, action: &'static str) -> impl FnOnce(io::Error) -> SinkError + '_ {
        move |error| SinkError::Io {
            sink: self.name.clone(),
            action,
            error,
        }
    }

    fn invalid_position(&self, position: &Value, reason: &'static str) -> SinkError {
        SinkError::InvalidPosition {
            sink: self.name.clone(),
            position: position.to_string(),
            reason,
        }
    }

    /// Parses `{"path", "offset"[, "segment", "started_at"]}` and checks that it names this
    /// file.
    fn recorded(&self, position: &Value) -> Result<Recorded, SinkError> {
        let recorded_path = position
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| self.invalid_position(position, "no \"path\" string"))?;
        let offset = position
            .get("offset")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.invalid_position(position, "no non-negative \"offset\""))?;
        let segment = match position.get("segment") {
            None => None,
            Some(value) => Some(value.as_u64().filter(|&n| n >= 1).ok_or_else(|| {
                self.invalid_position(position, "\"segment\" is not a whole number >= 1")
            })?),
        };
        let started_at = match position.get("started_at") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_str()
                    .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                    .map(|time| time.with_timezone(&Utc))
                    .ok_or_else(|| {
                        self.invalid_position(position, "\"started_at\" is not an RFC 3339 time")
                    })?,
            ),
        };
        if recorded_path != self.path.to_string_lossy() {
            return Err(SinkError::PathMismatch {
                recorded: PathBuf::from(recorded_path),
                configured: self.path.clone(),
            });
        }
        Ok(Recorded {
            segment,
            offset,
            started_at,
        })
    }

    /// The numbers of the rotated files that exist.
    async fn rotated(&self) -> Result<BTreeSet<u64>, SinkError> {
        list_rotated(&self.path)
            .await
            .map_err(self.io("list rotated output files"))
    }

    /// Opens the active file for appending, locked, if it exists; returns it and its length.
    async fn open_existing(&self) -> Result<Option<(File, u64)>, SinkError> {
        match self.open_locked(false, "open output file") {
            Ok(opened) => Ok(Some(opened)),
            Err(SinkError::Io { error, .. }) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Opens the active file for appending (creating it if `create`) and locks it before
    /// anything else: refused with [`SinkError::Locked`] while another process (or another
    /// sink) holds it. The lock lasts as long as the file is open. Returns it and its length.
    fn open_locked(&self, create: bool, action: &'static str) -> Result<(File, u64), SinkError> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(create)
            .open(&self.path)
            .map_err(self.io(action))?;
        if !oktaflow_plumbing::try_lock_exclusive(&file).map_err(self.io("lock output file"))? {
            return Err(SinkError::Locked {
                path: self.path.clone(),
                pid: oktaflow_plumbing::lock_holder(&file),
            });
        }
        let len = file
            .metadata()
            .map_err(self.io("inspect output file"))?
            .len();
        Ok((File::from_std(file), len))
    }

    /// Opens the active file for appending, creating it if missing, locked; returns it and
    /// its length.
    async fn open_append(&self, action: &'static str) -> Result<(File, u64), SinkError> {
        self.open_locked(true, action)
    }

    /// Creates the active file that was missing at recovery, at the first non-empty batch.
    /// If it has appeared since, with data, that data is no one's this sink knows of:
    /// refused like existing data without a checkpoint.
    async fn create_missing(&self) -> Result<File, SinkError> {
        let (file, len) = self.open_append("create output file").await?;
        if len > 0 {
            return Err(SinkError::UnrecordedData {
                path: self.path.clone(),
                len,
            });
        }
        self.sync_parent_dir().await?;
        Ok(file)
    }

    /// Opens the active file as a new segment with nothing committed: created if missing,
    /// emptied otherwise (whatever it holds was never acknowledged), and the directory
    /// fsynced, which also makes the rename of the previous segment durable.
    async fn open_empty_segment(&self) -> Result<File, SinkError> {
        let (file, len) = self.open_append("create output file").await?;
        if len > 0 {
            self.truncate(&file, 0).await?;
        }
        self.sync_parent_dir().await?;
        Ok(file)
    }

    /// Makes creations, renames and removals in the output directory durable.
    async fn sync_parent_dir(&self) -> Result<(), SinkError> {
        #[cfg(unix)]
        if let Some(dir) = self.path.parent() {
            let dir = File::open(dir)
                .await
                .map_err(self.io("open output directory"))?;
            dir.sync_all()
                .await
                .map_err(self.io("sync output directory"))?;
        }
        Ok(())
    }

    async fn truncate(&self, file: &File, len: u64) -> Result<(), SinkError> {
        file.set_len(len)
            .await
            .map_err(self.io("truncate output file"))?;
        file.sync_data().await.map_err(self.io("sync output file"))
    }

    /// No checkpoint yet: start on an empty file (created by the first non-empty batch), or
    /// follow [`ExistingFile`].
    async fn first_run(&self) -> Result<Active, SinkError> {
        let rotated = if self.segmented {
            self.rotated().await?
        } else {
            BTreeSet::new()
        };
        if let (Some(&oldest), ExistingFile::Refuse) = (rotated.first(), self.existing) {
            let path = rotated_path(&self.path, oldest);
            let len = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
            return Err(SinkError::UnrecordedData { path, len });
        }
        let segment = rotated.last().map_or(1, |&n| n + 1);
        let Some((file, len)) = self.open_existing().await? else {
            return Ok(Active::missing(segment));
        };
        let committed = match self.existing {
            _ if len == 0 => 0,
            ExistingFile::Refuse => {
                return Err(SinkError::UnrecordedData {
                    path: self.path.clone(),
                    len,
                });
            }
            ExistingFile::Append => len,
            ExistingFile::Truncate => {
                self.truncate(&file, 0).await?;
                0
            }
        };
        Ok(Active {
            segment,
            committed,
            started_at: (committed > 0).then(|| self.clock.now()),
            file: Some(file),
            missing: false,
        })
    }

    /// A checkpoint in the format without rotation, and no rotation configured: the file
    /// is truncated to the offset (exactly the behaviour before rotation existed). A missing
    /// file with nothing committed is created by the first non-empty batch.
    async fn recover_single(&self, offset: u64) -> Result<Active, SinkError> {
        let Some((file, len)) = self.open_existing().await? else {
            if offset == 0 {
                return Ok(Active::missing(1));
            }
            return Err(SinkError::ShortFile {
                path: self.path.clone(),
                actual: 0,
                recorded: offset,
            });
        };
        if len < offset {
            return Err(SinkError::ShortFile {
                path: self.path.clone(),
                actual: len,
                recorded: offset,
            });
        }
        if len > offset {
            self.truncate(&file, offset).await?;
        }
        Ok(Active {
            segment: 1,
            committed: offset,
            started_at: None,
            file: Some(file),
            missing: false,
        })
    }

    /// A checkpoint naming segment N (1 for the old format): see the module documentation.
    async fn recover_segments(&self, recorded: Recorded) -> Result<Active, SinkError> {
        let segment = recorded.segment.unwrap_or(1);
        let offset = recorded.offset;
        let rotated = self.rotated().await?;
        let newer: Vec<u64> = rotated.range(segment + 1..).copied().collect();

        if rotated.contains(&segment) {
            // The rotation of this segment began after the checkpoint, which covers all of
            // it (a file is rotated only once its last batch is checkpointed).
            let old = rotated_path(&self.path, segment);
            let len = tokio::fs::metadata(&old)
                .await
                .map_err(self.io("inspect rotated output file"))?
                .len();
            if len < offset {
                return Err(SinkError::ShortFile {
                    path: old,
                    actual: len,
                    recorded: offset,
                });
            }
            if len > offset {
                return Err(SinkError::Segments {
                    path: old,
                    reason: format!(
                        "holds {len} bytes but the checkpoint records {offset} committed bytes \
                         of segment {segment}, and a file is rotated only once all of it is \
                         checkpointed"
                    ),
                });
            }
            for number in newer {
                match tokio::fs::remove_file(rotated_path(&self.path, number)).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.io("remove rotated output file")(e)),
                }
            }
            let file = self.open_empty_segment().await?;
            return Ok(Active {
                segment: segment + 1,
                committed: 0,
                started_at: None,
                file: Some(file),
                missing: false,
            });
        }

        if let Some(&number) = newer.first() {
            return Err(SinkError::Segments {
                path: rotated_path(&self.path, number),
                reason: format!(
                    "is a rotated file newer than segment {segment}, which the checkpoint \
                     names as the active one and which was never rotated"
                ),
            });
        }
        let exists = match tokio::fs::metadata(&self.path).await {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(self.io("inspect output file")(e)),
        };
        if !exists && offset > 0 {
            return Err(SinkError::Segments {
                path: self.path.clone(),
                reason: format!(
                    "is missing (and segment {segment} is not rotated either) but the \
                     checkpoint records {offset} committed bytes in it"
                ),
            });
        }
        let mut active = self.recover_single(offset).await?;
        active.segment = segment;
        active.started_at = (offset > 0).then(|| recorded.started_at.unwrap_or(self.clock.now()));
        Ok(active)
    }

    /// Whether the next non-empty batch must go to a new file.
    fn rotation_due(&self, active: &Active, now: DateTime<Utc>) -> bool {
        if active.committed == 0 {
            return false;
        }
        let by_size = self.rotation.size.is_some_and(|s| active.committed >= s);
        let by_age = match (self.rotation.interval, active.started_at) {
            (Some(interval), Some(started)) => now
                .signed_duration_since(started)
                .to_std()
                .is_ok_and(|age| age >= interval),
            _ => false,
        };
        by_size || by_age
    }

    /// Renames the active file to its numbered name; `active` then describes the next
    /// segment, whose file is still to be created. On an error nothing has changed.
    async fn rotate(&self, active: &mut Active) -> Result<(), SinkError> {
        let target = rotated_path(&self.path, active.segment);
        match tokio::fs::symlink_metadata(&target).await {
            Ok(_) => {
                return Err(SinkError::Segments {
                    path: target,
                    reason: format!(
                        "exists already, so segment {} cannot be rotated to it",
                        active.segment
                    ),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io("inspect rotated output file")(e)),
        }
        tokio::fs::rename(&self.path, &target)
            .await
            .map_err(self.io("rotate output file"))?;
        *active = Active {
            segment: active.segment + 1,
            committed: 0,
            started_at: None,
            file: None,
            missing: false,
        };
        Ok(())
    }

    /// Deletes the oldest rotated files beyond `rotate_keep`. Only numbers below the active
    /// segment are rotated files; the newest of them (the one a checkpoint may still name)
    /// is always kept. A failure is logged: the files are deleted at the next rotation.
    async fn apply_retention(&self, active_segment: u64) {
        let Some(keep) = self.rotation.keep else {
            return;
        };
        let rotated = match list_rotated(&self.path).await {
            Ok(rotated) => rotated,
            Err(error) => {
                warn!(sink = %self.name, %error, "cannot list rotated files to delete old ones");
                return;
            }
        };
        let old: Vec<u64> = rotated.range(..active_segment).copied().collect();
        let excess = old.len().saturating_sub(keep.max(1) as usize);
        for &number in &old[..excess] {
            let path = rotated_path(&self.path, number);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    warn!(sink = %self.name, file = %path.display(), %error, "cannot delete an old rotated file");
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }

    async fn recover(&mut self, position: Option<&Value>) -> Result<(), SinkError> {
        self.active = None;
        let recorded = position.map(|p| self.recorded(p)).transpose()?;
        self.segmented =
            self.rotation.is_enabled() || recorded.as_ref().is_some_and(|r| r.segment.is_some());
        let active = match recorded {
            None => self.first_run().await?,
            Some(recorded) if !self.segmented => self.recover_single(recorded.offset).await?,
            Some(recorded) => self.recover_segments(recorded).await?,
        };
        self.active = Some(active);
        Ok(())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        let Some(mut active) = self.active.take() else {
            return Err(SinkError::NotRecovered {
                sink: self.name.clone(),
            });
        };
        if batch.is_empty() {
            let ack = Ack::accepted(self.position(&active));
            self.active = Some(active);
            return Ok(ack);
        }
        let now = self.clock.now();
        let mut rotated = false;
        if active.file.is_some() && self.rotation_due(&active, now) {
            if let Err(error) = self.rotate(&mut active).await {
                self.active = Some(active);
                return Err(error);
            }
            rotated = true;
        }
        let file = match active.file.take() {
            Some(file) => file,
            None => {
                let opened = if active.missing {
                    self.create_missing().await
                } else {
                    self.open_empty_segment().await
                };
                match opened {
                    Ok(file) => {
                        active.missing = false;
                        file
                    }
                    Err(error) => {
                        // Still resumable: the next attempt creates the file again.
                        self.active = Some(active);
                        return Err(error);
                    }
                }
            }
        };
        if rotated {
            self.apply_retention(active.segment).await;
        }

        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for doc in batch {
            buf.extend_from_slice(&doc.json);
            buf.push(b'\n');
        }
        // One blocking call writes and syncs the whole batch (tokio's `File` would copy the
        // buffer again, in 2 MiB pieces, one blocking hop each).
        let len = buf.len() as u64;
        let mut std_file = file.into_std().await;
        let outcome = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let written = std_file.write_all(&buf).and_then(|()| std_file.sync_data());
            (std_file, buf, written)
        })
        .await;
        let (file, written) = match outcome {
            Ok((std_file, buf, written)) => {
                self.buf = buf;
                (File::from_std(std_file), written)
            }
            Err(join) => {
                // The file handle went with the failed task: reopen on the next start.
                return Err(self.io("write batch")(std::io::Error::other(
                    join.to_string(),
                )));
            }
        };
        match written {
            Ok(()) => {
                if active.committed == 0 {
                    active.started_at = Some(now);
                }
                active.committed += len;
                active.file = Some(file);
                let ack = Ack::accepted(self.position(&active));
                self.active = Some(active);
                Ok(ack)
            }
            Err(error) => {
                // Take back whatever part of the batch reached the file, so a retry
                // starts from the committed offset. If even that fails the file is in
                // an unknown state: stay unrecovered until the next start.
                if self.truncate(&file, active.committed).await.is_ok() {
                    active.file = Some(file);
                    self.active = Some(active);
                }
                Err(self.io("write batch")(error))
            }
        }
    }
}

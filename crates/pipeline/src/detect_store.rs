//! Where the detect stage's state lives between runs, so that a batch's checkpoint costs what
//! the batch changed, not the size of the state (hundreds of thousands of sessions, accounts
//! and IPs after a large backfill).
//!
//! In the state directory, per source, one *generation* `G` of two files:
//!
//! * `<source>.detect-G.json`: the whole [`DetectorState`] when the generation started
//!   (written once: the detect stage streams it from the detector's maps into
//!   `<source>.detect-G.json.tmp` and fsyncs it ([`GenerationFiles::write_full`]); the writer
//!   renames it into place and fsyncs the directory when it commits that batch);
//! * `<source>.detect-G.journal`: one line of [`StateChanges`] per committed batch after it
//!   (appended, then `fdatasync`).
//!
//! The checkpoint names the generation and how many journal bytes it covers
//! ([`DetectStateRef`]); it is the commit point, written after the journal line. Journal bytes
//! past that length belong to a batch whose checkpoint was never saved: they are cut off when
//! the state is loaded, and the batch is fetched, detected and journaled again. A generation
//! that the last saved checkpoint does not name (a newer one whose checkpoint was never saved,
//! or an older one) is deleted at load; the previous generation is deleted once a checkpoint
//! naming the new one is saved. A crash at any point leaves the files the checkpoint needs.
//!
//! When to start a new generation is the detect stage's choice ([`crate::detect::DetectStage`]):
//! when the journal has grown past the size of the whole state, so a restart replays at most
//! about twice the state, and each change is written about twice on average.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oktaflow_detect::{DetectorState, StateChanges};
use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointError;
use crate::state_files::{self, io};

/// The detect state a checkpoint covers: generation `generation`'s full state plus the first
/// `journal_bytes` bytes of its journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectStateRef {
    /// The generation (the number in the file names).
    pub generation: u64,
    /// Journal bytes that belong to the checkpoint (whole lines).
    pub journal_bytes: u64,
}

/// What one batch adds to the saved detect state: the whole state (a new generation) or the
/// changes since the batch before (a journal line). Both are made by the detect stage, off
/// the writer's path: a whole state is already in its temporary file (never held in memory
/// whole: hundreds of thousands of keys make tens of MB), a journal line is shared so a
/// retried checkpoint does not copy it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUpdate {
    /// Generation `generation`'s whole state, written and fsynced by the detect stage to
    /// `<source>.detect-G.json.tmp` ([`GenerationFiles::write_full`]), `bytes` long: the
    /// writer puts it in place ([`DetectStateStore::write`]).
    Full {
        /// The new generation: the one the last checkpoint names, plus one.
        generation: u64,
        /// Length of the file.
        bytes: u64,
    },
    /// One JSON line of [`StateChanges`], newline included.
    Changes(Arc<Vec<u8>>),
}

/// An empty journal line (`{}`): changes nothing.
impl Default for StateUpdate {
    fn default() -> Self {
        StateUpdate::Changes(Arc::new(b"{}\n".to_vec()))
    }
}

impl StateUpdate {
    /// Bytes written for it (a whole state: the length of its file).
    pub fn len(&self) -> usize {
        match self {
            StateUpdate::Full { bytes, .. } => usize::try_from(*bytes).unwrap_or(usize::MAX),
            StateUpdate::Changes(bytes) => bytes.len(),
        }
    }

    /// Whether there is nothing to write (never, for a real update).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sizes of the loaded state files: the detect stage's policy starts from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SavedSizes {
    /// The generation the checkpoint names (the next whole state is generation + 1).
    pub generation: u64,
    /// Bytes of the generation's full state.
    pub full_bytes: u64,
    /// Journal bytes the checkpoint covers.
    pub journal_bytes: u64,
}

/// The names of one source's detect state files in the state directory, and the writing of
/// a new generation's whole state: what the detect stage needs to write a generation itself.
#[derive(Debug, Clone)]
pub struct GenerationFiles {
    dir: PathBuf,
    source: String,
}

impl GenerationFiles {
    /// The files of `source` in `dir` (the source name was validated by the checkpoint store).
    pub fn new(dir: impl Into<PathBuf>, source: &str) -> GenerationFiles {
        GenerationFiles {
            dir: dir.into(),
            source: source.to_string(),
        }
    }

    fn full_path(&self, generation: u64) -> PathBuf {
        self.dir
            .join(format!("{}.detect-{generation}.json", self.source))
    }

    fn tmp_path(&self, generation: u64) -> PathBuf {
        self.full_path(generation).with_extension("json.tmp")
    }

    fn journal_path(&self, generation: u64) -> PathBuf {
        self.dir
            .join(format!("{}.detect-{generation}.journal", self.source))
    }

    /// Writes generation `generation`'s whole state to its temporary file
    /// `<source>.detect-G.json.tmp` through `write` (buffered, so a state of any size is
    /// streamed, never held whole) and fsyncs it; returns its length, for
    /// [`StateUpdate::Full`]. Nothing counts until the writer has renamed it into place and a
    /// checkpoint names the generation; a stray temporary file is deleted at load.
    pub fn write_full(
        &self,
        generation: u64,
        write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<u64, CheckpointError> {
        let tmp = self.tmp_path(generation);
        let file = File::create(&tmp).map_err(io("creating", &tmp))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        write(&mut out).map_err(io("writing", &tmp))?;
        let file = out
            .into_inner()
            .map_err(|e| io("writing", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io("syncing", &tmp))?;
        let bytes = file
            .metadata()
            .map_err(io("reading the size of", &tmp))?
            .len();
        Ok(bytes)
    }
}

/// The detect state files of one source (see the [module documentation](self)).
#[derive(Debug)]
pub struct DetectStateStore {
    files: GenerationFiles,
    /// What the last saved checkpoint names (`None`: nothing yet).
    committed: Option<DetectStateRef>,
    /// The open journal of `committed`'s generation (or of a newer one being written).
    journal: Option<(u64, File)>,
}

impl DetectStateStore {
    /// The store of `source` in `dir` (the source name was validated by the checkpoint store).
    pub fn new(dir: impl Into<PathBuf>, source: &str) -> DetectStateStore {
        DetectStateStore {
            files: GenerationFiles::new(dir, source),
            committed: None,
            journal: None,
        }
    }

    /// The file names (for the detect stage, which writes each new generation's whole state).
    pub fn files(&self) -> &GenerationFiles {
        &self.files
    }

    fn full_path(&self, generation: u64) -> PathBuf {
        self.files.full_path(generation)
    }

    fn journal_path(&self, generation: u64) -> PathBuf {
        self.files.journal_path(generation)
    }

    /// The generations present in the directory.
    fn generations(&self) -> Result<Vec<u64>, CheckpointError> {
        let prefix = format!("{}.detect-", self.files.source);
        state_files::generations(
            &self.files.dir,
            &prefix,
            &[".json", ".json.tmp", ".journal"],
        )
    }

    fn remove_generation(&self, generation: u64) -> Result<(), CheckpointError> {
        for path in [
            self.full_path(generation),
            self.journal_path(generation),
            self.files.tmp_path(generation),
        ] {
            state_files::remove_if_present(&path)?;
        }
        Ok(())
    }

    /// The state the checkpoint's `saved` names (`None`: the checkpoint has none), with the
    /// sizes of its files. Journal bytes past the checkpoint are cut off and every generation
    /// the checkpoint does not name is deleted. A missing or unreadable file the checkpoint
    /// names is an error naming it, never a silent restart of the detectors.
    pub fn load(
        &mut self,
        saved: Option<DetectStateRef>,
    ) -> Result<Option<(DetectorState, SavedSizes)>, CheckpointError> {
        for generation in self.generations()? {
            if saved.map(|s| s.generation) != Some(generation) {
                self.remove_generation(generation)?;
            }
        }
        self.committed = None;
        self.journal = None;
        let Some(saved) = saved else {
            return Ok(None);
        };
        let full_path = self.full_path(saved.generation);
        let full = File::open(&full_path).map_err(io("reading", &full_path))?;
        let full_bytes = full
            .metadata()
            .map_err(io("reading the size of", &full_path))?
            .len();
        let mut state: DetectorState =
            serde_json::from_reader(BufReader::with_capacity(1 << 16, full)).map_err(|e| {
                if e.is_io() {
                    io("reading", &full_path)(e.into())
                } else {
                    corrupt(&full_path, e.to_string())
                }
            })?;
        let journal_path = self.journal_path(saved.generation);
        let mut journal = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&journal_path)
            .map_err(io("opening", &journal_path))?;
        let length = journal
            .metadata()
            .map_err(io("reading the size of", &journal_path))?
            .len();
        if length < saved.journal_bytes {
            return Err(corrupt(
                &journal_path,
                format!(
                    "it holds {length} bytes, the checkpoint names {}",
                    saved.journal_bytes
                ),
            ));
        }
        let mut reader = BufReader::new((&mut journal).take(saved.journal_bytes));
        let mut line = Vec::new();
        let mut read = 0u64;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(io("reading", &journal_path))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if line.last() != Some(&b'\n') {
                return Err(corrupt(
                    &journal_path,
                    format!("the line ending at byte {read} is cut off"),
                ));
            }
            let changes: StateChanges = serde_json::from_slice(&line)
                .map_err(|e| corrupt(&journal_path, format!("line ending at byte {read}: {e}")))?;
            state.apply(changes);
        }
        drop(reader);
        if length > saved.journal_bytes {
            // A batch journaled but never checkpointed: it is done again.
            journal
                .set_len(saved.journal_bytes)
                .map_err(io("cutting off the uncommitted end of", &journal_path))?;
            journal.sync_all().map_err(io("syncing", &journal_path))?;
        }
        self.journal = Some((saved.generation, journal));
        self.committed = Some(saved);
        Ok(Some((
            state,
            SavedSizes {
                generation: saved.generation,
                full_bytes,
                journal_bytes: saved.journal_bytes,
            },
        )))
    }

    /// Makes `update` durable after what the last saved checkpoint covers and returns what
    /// the next checkpoint must name. Nothing counts until that checkpoint is saved
    /// ([`committed`](Self::committed)): called again after a failure (a retry), it writes
    /// the same update at the same place.
    ///
    /// A whole state ([`StateUpdate::Full`]) was written by the detect stage to its temporary
    /// file: it is renamed into place (or, on a retry after the rename, found in place with
    /// its length), an empty journal is created and the directory is fsynced. Its generation
    /// must follow the one the last checkpoint names.
    pub fn write(&mut self, update: &StateUpdate) -> Result<DetectStateRef, CheckpointError> {
        match update {
            &StateUpdate::Full { generation, bytes } => {
                let expected = self.committed.map_or(1, |c| c.generation + 1);
                let path = self.full_path(generation);
                if generation != expected {
                    return Err(corrupt(
                        &path,
                        format!(
                            "the detect stage wrote generation {generation}, but the next one \
                             is {expected}"
                        ),
                    ));
                }
                let tmp = self.files.tmp_path(generation);
                let length = |path: &Path| match fs::metadata(path) {
                    Ok(meta) => Ok(Some(meta.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io("reading the size of", path)(e)),
                };
                match length(&tmp)? {
                    Some(found) if found == bytes => {
                        fs::rename(&tmp, &path).map_err(io("renaming into place", &path))?;
                    }
                    // Renamed by an attempt that failed after it: in place already.
                    None if length(&path)? == Some(bytes) => {}
                    found => {
                        return Err(corrupt(
                            &tmp,
                            format!(
                                "the whole state of generation {generation} should be {bytes} \
                                 bytes, the file {}",
                                found.map_or("is missing".to_string(), |n| format!("has {n}"))
                            ),
                        ))
                    }
                }
                let journal_path = self.journal_path(generation);
                let journal = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&journal_path)
                    .map_err(io("creating", &journal_path))?;
                journal.sync_all().map_err(io("syncing", &journal_path))?;
                state_files::sync_dir(&self.files.dir)?;
                self.journal = Some((generation, journal));
                Ok(DetectStateRef {
                    generation,
                    journal_bytes: 0,
                })
            }
            StateUpdate::Changes(bytes) => {
                let Some(committed) = self.committed else {
                    return Err(corrupt(
                        &self.files.dir,
                        "detector changes came before any whole state was saved".into(),
                    ));
                };
                let path = self.journal_path(committed.generation);
                let file = match &mut self.journal {
                    Some((generation, file)) if *generation == committed.generation => file,
                    _ => {
                        let file = OpenOptions::new()
                            .read(true)
                            .write(true)
                            .open(&path)
                            .map_err(io("opening", &path))?;
                        &mut self.journal.insert((committed.generation, file)).1
                    }
                };
                state_files::append_at(file, &path, committed.journal_bytes, bytes)?;
                Ok(DetectStateRef {
                    generation: committed.generation,
                    journal_bytes: committed.journal_bytes + bytes.len() as u64,
                })
            }
        }
    }

    /// A checkpoint naming `saved` was saved: it is now what a restart loads. The files of an
    /// older generation are deleted.
    pub fn committed(&mut self, saved: DetectStateRef) -> Result<(), CheckpointError> {
        let previous = self.committed.replace(saved);
        if let Some(previous) = previous {
            if previous.generation != saved.generation {
                self.remove_generation(previous.generation)?;
            }
        }
        Ok(())
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.files.dir
    }
}

fn corrupt(path: &Path, detail: String) -> CheckpointError {
    CheckpointError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("detector state: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn state(latest: i64, keys: &[(&str, i64)]) -> DetectorState {
        let mut rules = BTreeMap::new();
        let map: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|(k, v)| ((*k).to_string(), serde_json::json!(v)))
            .collect();
        rules.insert("r".to_string(), serde_json::Value::Object(map));
        DetectorState {
            version: oktaflow_detect::STATE_VERSION,
            rules,
            latest: Some(latest),
        }
    }

    /// The next generation of `store`, written as the detect stage writes it.
    fn full(store: &DetectStateStore, s: &DetectorState) -> StateUpdate {
        let generation = store.committed.map_or(1, |c| c.generation + 1);
        let bytes = store
            .files()
            .write_full(generation, |out| {
                serde_json::to_writer(out, s).map_err(std::io::Error::from)
            })
            .unwrap();
        StateUpdate::Full { generation, bytes }
    }

    fn changes(latest: i64, key: &str, value: Option<i64>) -> StateUpdate {
        let mut keys = BTreeMap::new();
        keys.insert(key.to_string(), value.map(|v| serde_json::json!(v)));
        let mut rules = BTreeMap::new();
        rules.insert("r".to_string(), keys);
        let mut line = serde_json::to_vec(&StateChanges {
            latest: Some(latest),
            rules,
            sigma: None,
        })
        .unwrap();
        line.push(b'\n');
        StateUpdate::Changes(Arc::new(line))
    }

    #[test]
    fn a_full_state_then_changes_load_back_and_uncommitted_changes_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        assert_eq!(store.load(None).unwrap(), None);
        let r1 = store.write(&full(&store, &state(1, &[("a", 1)]))).unwrap();
        store.committed(r1).unwrap();
        let r2 = store.write(&changes(2, "b", Some(2))).unwrap();
        store.committed(r2).unwrap();
        // Journaled, but the checkpoint naming it was never saved (crash).
        let r3 = store.write(&changes(3, "a", None)).unwrap();
        assert!(r3.journal_bytes > r2.journal_bytes);

        let mut again = DetectStateStore::new(dir.path(), "okta");
        let (loaded, sizes) = again.load(Some(r2)).unwrap().unwrap();
        assert_eq!(loaded, state(2, &[("a", 1), ("b", 2)]));
        assert_eq!(sizes.journal_bytes, r2.journal_bytes);
        // The uncommitted line is gone; the next one goes where it was.
        let journal = dir.path().join("okta.detect-1.journal");
        assert_eq!(fs::metadata(&journal).unwrap().len(), r2.journal_bytes);
        let r3 = again.write(&changes(3, "a", None)).unwrap();
        again.committed(r3).unwrap();
        let (loaded, _) = DetectStateStore::new(dir.path(), "okta")
            .load(Some(r3))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, state(3, &[("b", 2)]));
    }

    #[test]
    fn a_retried_write_overwrites_the_failed_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        let r1 = store.write(&full(&store, &state(1, &[]))).unwrap();
        store.committed(r1).unwrap();
        let first = store.write(&changes(2, "x", Some(1))).unwrap();
        let second = store.write(&changes(2, "x", Some(1))).unwrap();
        assert_eq!(first, second, "the same place, not appended twice");
        store.committed(second).unwrap();
        let (loaded, _) = DetectStateStore::new(dir.path(), "okta")
            .load(Some(second))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, state(2, &[("x", 1)]));
    }

    #[test]
    fn a_new_generation_replaces_the_old_once_checkpointed_and_strays_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        let r1 = store.write(&full(&store, &state(1, &[("a", 1)]))).unwrap();
        store.committed(r1).unwrap();
        let r1b = store.write(&changes(2, "b", Some(2))).unwrap();
        store.committed(r1b).unwrap();
        let r2 = store.write(&full(&store, &state(3, &[("c", 3)]))).unwrap();
        assert_eq!(r2.generation, 2);
        // Before the checkpoint naming generation 2 is saved, generation 1 stays.
        assert!(dir.path().join("okta.detect-1.json").exists());
        // A crash here: the checkpoint still names generation 1; loading deletes 2.
        let mut after_crash = DetectStateStore::new(dir.path(), "okta");
        let (loaded, _) = after_crash.load(Some(r1b)).unwrap().unwrap();
        assert_eq!(loaded, state(2, &[("a", 1), ("b", 2)]));
        assert!(!dir.path().join("okta.detect-2.json").exists());
        // Written again and checkpointed: generation 1 goes.
        let r2 = after_crash
            .write(&full(&after_crash, &state(3, &[("c", 3)])))
            .unwrap();
        after_crash.committed(r2).unwrap();
        assert!(!dir.path().join("okta.detect-1.json").exists());
        assert!(!dir.path().join("okta.detect-1.journal").exists());
        let (loaded, _) = DetectStateStore::new(dir.path(), "okta")
            .load(Some(r2))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, state(3, &[("c", 3)]));
    }

    #[test]
    fn a_whole_state_is_renamed_into_place_once_and_a_retry_finds_it_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        let update = full(&store, &state(1, &[("a", 1)]));
        let tmp = dir.path().join("okta.detect-1.json.tmp");
        assert!(tmp.exists(), "the detect stage wrote the temporary file");
        let first = store.write(&update).unwrap();
        assert!(!tmp.exists() && dir.path().join("okta.detect-1.json").exists());
        // The checkpoint was not saved (an I/O error after the rename): retried.
        let again = store.write(&update).unwrap();
        assert_eq!(first, again);
        store.committed(again).unwrap();
        let (loaded, sizes) = DetectStateStore::new(dir.path(), "okta")
            .load(Some(again))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, state(1, &[("a", 1)]));
        assert_eq!(
            (sizes.generation, sizes.full_bytes),
            (1, update.len() as u64)
        );
    }

    #[test]
    fn a_whole_state_out_of_turn_or_of_another_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        let r1 = store.write(&full(&store, &state(1, &[]))).unwrap();
        store.committed(r1).unwrap();
        // Generation 3 while the checkpoint names 1.
        let skipped = StateUpdate::Full {
            generation: 3,
            bytes: 10,
        };
        let message = store.write(&skipped).unwrap_err().to_string();
        assert!(message.contains("generation 3"), "{message}");
        let StateUpdate::Full { generation, bytes } = full(&store, &state(2, &[("b", 2)])) else {
            unreachable!()
        };
        let wrong = StateUpdate::Full {
            generation,
            bytes: bytes + 1,
        };
        let message = store.write(&wrong).unwrap_err().to_string();
        assert!(message.contains("okta.detect-2.json.tmp"), "{message}");
        assert!(store
            .write(&StateUpdate::Full { generation, bytes })
            .is_ok());
    }

    #[test]
    fn a_temporary_whole_state_never_put_in_place_is_deleted_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        let r1 = store.write(&full(&store, &state(1, &[("a", 1)]))).unwrap();
        store.committed(r1).unwrap();
        // The detect stage wrote generation 2 a batch ahead; the run stopped before the
        // writer took it.
        let _ = full(&store, &state(2, &[]));
        let tmp = dir.path().join("okta.detect-2.json.tmp");
        assert!(tmp.exists());
        let (loaded, _) = DetectStateStore::new(dir.path(), "okta")
            .load(Some(r1))
            .unwrap()
            .unwrap();
        assert_eq!(loaded, state(1, &[("a", 1)]));
        assert!(!tmp.exists());
    }

    #[test]
    fn missing_or_damaged_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DetectStateStore::new(dir.path(), "okta");
        let missing = store.load(Some(DetectStateRef {
            generation: 7,
            journal_bytes: 0,
        }));
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("okta.detect-7.json"), "{message}");

        let mut store = DetectStateStore::new(dir.path(), "okta");
        let r1 = store.write(&full(&store, &state(1, &[]))).unwrap();
        store.committed(r1).unwrap();
        let r2 = store.write(&changes(2, "x", Some(1))).unwrap();
        store.committed(r2).unwrap();
        let journal = dir.path().join("okta.detect-1.journal");
        fs::write(&journal, b"{\"latest\":2,\"rul").unwrap();
        let message = DetectStateStore::new(dir.path(), "okta")
            .load(Some(r2))
            .unwrap_err()
            .to_string();
        assert!(message.contains("okta.detect-1.journal"), "{message}");
    }
}

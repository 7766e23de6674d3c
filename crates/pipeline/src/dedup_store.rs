//! Where a push source's de-duplication window (the ids of the events it made durable most
//! recently, [`crate::push::DedupWindow`]) lives between runs, so that a batch's checkpoint
//! costs the ids the batch added, not the whole window (200,000 ids, ~7.8 MB).
//!
//! In the state directory, per source, journals of *generation* `G`:
//! `<source>.dedup-G.journal`, one line per committed batch: the JSON array of the ids it made
//! durable (appended, then `fdatasync`). The checkpoint names the current generation, how many
//! of its bytes it covers and how long the generation before it is ([`DedupStateRef`]); it is
//! the commit point, written after the journal line, so journal bytes past it belong to a batch
//! whose checkpoint was never saved: they are cut off at load (the batch's events were never
//! acknowledged, EventBridge sends them again).
//!
//! Once a generation holds at least the window's capacity of ids, the next batch starts
//! generation `G + 1`: the window (the newest `capacity` ids) is then always within the last two
//! generations, which are all a restart reads; `G - 1` is deleted once a checkpoint naming
//! `G + 1` is saved. Each id is written once, a restart reads at most about twice the window,
//! and a generation that the last saved checkpoint does not name (nor its predecessor) is
//! deleted at load. This is the detect state's scheme ([`crate::detect_store`]) with the
//! previous journal as the whole state: a window is nothing but its newest ids.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointError;
use crate::state_files::{self, io};

/// The de-duplication journals a checkpoint covers: the first `journal_bytes` bytes of
/// generation `generation` and, before them, the first `previous_bytes` of generation
/// `generation - 1` (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupStateRef {
    /// The current generation (the number in the file name).
    pub generation: u64,
    /// Bytes of its journal that belong to the checkpoint (whole lines).
    pub journal_bytes: u64,
    /// Bytes of the previous generation's journal (0 when there is none).
    #[serde(default)]
    pub previous_bytes: u64,
}

/// The de-duplication journals of one source (see the [module documentation](self)).
#[derive(Debug)]
pub struct DedupStore {
    dir: PathBuf,
    source: String,
    capacity: usize,
    /// What the last saved checkpoint names, with the ids its current generation holds.
    committed: Option<(DedupStateRef, u64)>,
    /// What the last write returned (made durable, not yet checkpointed), with its id count.
    pending: Option<(DedupStateRef, u64)>,
    /// Ids restored from a checkpoint that held the window inline (before these files): they
    /// open the first generation.
    seed: Vec<String>,
    /// The open journal of a generation.
    journal: Option<(u64, File)>,
}

impl DedupStore {
    /// The store of `source` in `dir` for a window of `capacity` ids (the source name was
    /// validated by the checkpoint store).
    pub fn new(dir: impl Into<PathBuf>, source: &str, capacity: usize) -> DedupStore {
        DedupStore {
            dir: dir.into(),
            source: source.to_string(),
            capacity: capacity.max(1),
            committed: None,
            pending: None,
            seed: Vec::new(),
            journal: None,
        }
    }

    fn path(&self, generation: u64) -> PathBuf {
        self.dir
            .join(format!("{}.dedup-{generation}.journal", self.source))
    }

    fn generations(&self) -> Result<Vec<u64>, CheckpointError> {
        let prefix = format!("{}.dedup-", self.source);
        state_files::generations(&self.dir, &prefix, &[".journal"])
    }

    fn remove(&self, generation: u64) -> Result<(), CheckpointError> {
        state_files::remove_if_present(&self.path(generation))
    }

    /// Reads the ids of the first `bytes` bytes of generation `generation` into `ids`, cuts off
    /// what follows them and returns the open file and how many ids it held.
    fn read(
        &self,
        generation: u64,
        bytes: u64,
        ids: &mut Vec<String>,
    ) -> Result<(File, u64), CheckpointError> {
        let path = self.path(generation);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io("opening", &path))?;
        let length = file
            .metadata()
            .map_err(io("reading the size of", &path))?
            .len();
        if length < bytes {
            return Err(corrupt(
                &path,
                format!("it holds {length} bytes, the checkpoint names {bytes}"),
            ));
        }
        let mut reader = BufReader::new((&mut file).take(bytes));
        let mut line = Vec::new();
        let mut read = 0u64;
        let mut count = 0u64;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(io("reading", &path))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if line.last() != Some(&b'\n') {
                return Err(corrupt(
                    &path,
                    format!("the line ending at byte {read} is cut off"),
                ));
            }
            let batch: Vec<String> = serde_json::from_slice(&line)
                .map_err(|e| corrupt(&path, format!("line ending at byte {read}: {e}")))?;
            count += batch.len() as u64;
            ids.extend(batch);
        }
        drop(reader);
        if length > bytes {
            // A batch journaled but never checkpointed: it is received again.
            file.set_len(bytes)
                .map_err(io("cutting off the uncommitted end of", &path))?;
            file.sync_all().map_err(io("syncing", &path))?;
        }
        Ok((file, count))
    }

    /// The ids the checkpoint's `saved` names, oldest first (the caller keeps the newest
    /// `capacity`); `inline` is the window of an older checkpoint that held it itself (used
    /// when `saved` is `None`, and written into the first generation with the next batch).
    /// Journal bytes past the checkpoint are cut off and every generation the checkpoint does
    /// not need is deleted. A missing or unreadable file the checkpoint names is an error
    /// naming it, never a silently empty window.
    pub fn load(
        &mut self,
        saved: Option<DedupStateRef>,
        inline: Option<Vec<String>>,
    ) -> Result<Vec<String>, CheckpointError> {
        let keep = |g: u64| match saved {
            Some(s) => g == s.generation || (s.previous_bytes > 0 && g + 1 == s.generation),
            None => false,
        };
        for generation in self.generations()? {
            if !keep(generation) {
                self.remove(generation)?;
            }
        }
        self.committed = None;
        self.pending = None;
        self.journal = None;
        self.seed.clear();
        let Some(saved) = saved else {
            let seed = inline.unwrap_or_default();
            self.seed = seed.clone();
            return Ok(seed);
        };
        let mut ids = Vec::new();
        if saved.previous_bytes > 0 && saved.generation > 1 {
            self.read(saved.generation - 1, saved.previous_bytes, &mut ids)?;
        }
        let (file, count) = self.read(saved.generation, saved.journal_bytes, &mut ids)?;
        self.journal = Some((saved.generation, file));
        self.committed = Some((saved, count));
        Ok(ids)
    }

    /// Makes `ids` (the events a batch makes durable) durable after what the last saved
    /// checkpoint covers and returns what the next checkpoint must name (`None`: there is
    /// nothing to name yet, no ids ever). Nothing counts until that checkpoint is saved
    /// ([`committed`](Self::committed)); called again after a failure (a retry), it writes the
    /// same line at the same place.
    pub fn write(&mut self, ids: &[String]) -> Result<Option<DedupStateRef>, CheckpointError> {
        let mut line_ids: Vec<&String> = Vec::new();
        let (generation, start, previous_bytes, count) = match self.committed {
            None => {
                line_ids.extend(&self.seed);
                (1, 0, 0, 0)
            }
            Some((c, count)) if count >= self.capacity as u64 => {
                (c.generation + 1, 0, c.journal_bytes, 0)
            }
            Some((c, count)) => (c.generation, c.journal_bytes, c.previous_bytes, count),
        };
        line_ids.extend(ids);
        if line_ids.is_empty() {
            self.pending = self.committed;
            return Ok(self.committed.map(|(c, _)| c));
        }
        let mut line = serde_json::to_vec(&line_ids)
            .map_err(|e| corrupt(&self.dir, format!("serializing ids: {e}")))?;
        line.push(b'\n');
        let path = self.path(generation);
        let file = match &mut self.journal {
            Some((g, file)) if *g == generation => file,
            _ => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(start == 0)
                    .open(&path)
                    .map_err(io("opening", &path))?;
                if start == 0 {
                    state_files::sync_dir(&self.dir)?;
                }
                &mut self.journal.insert((generation, file)).1
            }
        };
        state_files::append_at(file, &path, start, &line)?;
        let saved = DedupStateRef {
            generation,
            journal_bytes: start + line.len() as u64,
            previous_bytes,
        };
        self.pending = Some((saved, count + line_ids.len() as u64));
        Ok(Some(saved))
    }

    /// A checkpoint naming `saved` (the last [`write`](Self::write)'s answer) was saved: it
    /// is what a restart loads. The generation before the previous one is deleted.
    pub fn committed(&mut self, saved: DedupStateRef) -> Result<(), CheckpointError> {
        let count = match self.pending.take() {
            Some((pending, count)) if pending == saved => count,
            _ => {
                return Err(corrupt(
                    &self.dir,
                    "a checkpoint named ids that were not written".into(),
                ))
            }
        };
        let previous = self.committed.replace((saved, count));
        self.seed.clear();
        if previous.map(|(p, _)| p.generation) != Some(saved.generation) && saved.generation > 1 {
            for old in 1..saved.generation - 1 {
                if self.path(old).exists() {
                    self.remove(old)?;
                }
            }
        }
        Ok(())
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn corrupt(path: &Path, detail: String) -> CheckpointError {
    CheckpointError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("de-duplication window: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn ids(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|n| format!("id-{n}")).collect()
    }

    fn commit(store: &mut DedupStore, batch: &[String]) -> DedupStateRef {
        let saved = store.write(batch).unwrap().unwrap();
        store.committed(saved).unwrap();
        saved
    }

    #[test]
    fn batches_load_back_and_an_uncheckpointed_one_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DedupStore::new(dir.path(), "okta", 100);
        assert!(store.load(None, None).unwrap().is_empty());
        commit(&mut store, &ids(0..3));
        let saved = commit(&mut store, &ids(3..5));
        // Written, but the checkpoint naming it was never saved (crash).
        let lost = store.write(&ids(5..7)).unwrap().unwrap();
        assert!(lost.journal_bytes > saved.journal_bytes);

        let mut again = DedupStore::new(dir.path(), "okta", 100);
        assert_eq!(again.load(Some(saved), None).unwrap(), ids(0..5));
        let journal = dir.path().join("okta.dedup-1.journal");
        assert_eq!(fs::metadata(&journal).unwrap().len(), saved.journal_bytes);
        let next = commit(&mut again, &ids(5..6));
        assert_eq!(
            DedupStore::new(dir.path(), "okta", 100)
                .load(Some(next), None)
                .unwrap(),
            ids(0..6)
        );
    }

    #[test]
    fn a_retried_write_overwrites_the_failed_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DedupStore::new(dir.path(), "okta", 100);
        commit(&mut store, &ids(0..2));
        let first = store.write(&ids(2..4)).unwrap();
        let second = store.write(&ids(2..4)).unwrap();
        assert_eq!(first, second, "the same place, not appended twice");
        store.committed(second.unwrap()).unwrap();
        assert_eq!(
            DedupStore::new(dir.path(), "okta", 100)
                .load(second, None)
                .unwrap(),
            ids(0..4)
        );
    }

    #[test]
    fn generations_roll_over_keeping_the_window_and_deleting_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DedupStore::new(dir.path(), "okta", 4);
        store.load(None, None).unwrap();
        let mut last = None;
        for start in (0..20).step_by(2) {
            last = Some(commit(&mut store, &ids(start..start + 2)));
        }
        let last = last.unwrap();
        // 4 ids per generation: 10 batches of 2 make generations 1..=5.
        assert_eq!(last.generation, 5);
        assert!(last.previous_bytes > 0);
        let present = store.generations().unwrap();
        assert!(present.iter().all(|g| *g >= 4), "{present:?}");
        let loaded = DedupStore::new(dir.path(), "okta", 4)
            .load(Some(last), None)
            .unwrap();
        // The newest 4 are among what is loaded.
        assert!(loaded.ends_with(&ids(16..20)), "{loaded:?}");
    }

    #[test]
    fn an_inline_window_seeds_the_first_generation() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DedupStore::new(dir.path(), "okta", 100);
        assert_eq!(store.load(None, Some(ids(0..3))).unwrap(), ids(0..3));
        let saved = commit(&mut store, &ids(3..4));
        assert_eq!(
            DedupStore::new(dir.path(), "okta", 100)
                .load(Some(saved), None)
                .unwrap(),
            ids(0..4)
        );
    }

    #[test]
    fn a_missing_or_damaged_journal_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = DedupStore::new(dir.path(), "okta", 10).load(
            Some(DedupStateRef {
                generation: 3,
                journal_bytes: 10,
                previous_bytes: 0,
            }),
            None,
        );
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("okta.dedup-3.journal"), "{message}");

        let mut store = DedupStore::new(dir.path(), "okta", 10);
        let saved = commit(&mut store, &ids(0..2));
        fs::write(dir.path().join("okta.dedup-1.journal"), b"[\"id-0\",").unwrap();
        let message = DedupStore::new(dir.path(), "okta", 10)
            .load(Some(saved), None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("okta.dedup-1.journal"), "{message}");
    }
}

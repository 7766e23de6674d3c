//! Bounded per-key state: every stateful rule keeps one [`Keyed`] map (account, IP, session →
//! its entry), capped at `max_keys_per_rule`. Past the cap the least recently seen keys are
//! evicted, oldest first, a tenth of the cap at a time (so eviction costs O(log n) per insert).
//!
//! Eviction depends only on the map's content (each entry's last-seen time, ties broken by the
//! key), never on the iteration order of the hash map or on when it last ran, so a detector
//! restored from saved state evolves exactly as the one that saved it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::Trigger;

/// An entry that knows when its key was last seen (`published`, ms).
pub(crate) trait LastSeen {
    fn last_seen(&self) -> i64;
}

/// A capped map from key to entry. It remembers which keys changed (created, touched,
/// expired or evicted) since [`Keyed::take_changes`] last ran, so that only those are written
/// to the state journal after each batch (not the whole map).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Keyed<V> {
    map: HashMap<String, V>,
    /// Keys changed since the last [`Keyed::take_changes`] (not saved).
    #[serde(skip)]
    dirty: HashSet<String>,
}

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed {
            map: HashMap::new(),
            dirty: HashSet::new(),
        }
    }
}

/// Two maps are equal when they hold the same entries (whatever changed since the last save).
impl<V: PartialEq> PartialEq for Keyed<V> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<V> Keyed<V> {
    fn touch(&mut self, key: &str) {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_owned());
        }
    }

    /// Forgets which keys changed (after a full state was taken).
    pub(crate) fn clear_changes(&mut self) {
        self.dirty.clear();
    }
}

impl<V: Serialize> Keyed<V> {
    /// The keys changed since the last call, each with its entry now (`None`: removed), in
    /// key order; the list of changes starts over.
    pub(crate) fn take_changes(&mut self) -> Vec<(String, Option<serde_json::Value>)> {
        let mut keys: Vec<String> = self.dirty.drain().collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|key| {
                // Entries are maps of strings and numbers: serializing them cannot fail.
                let value = self
                    .map
                    .get(&key)
                    .and_then(|v| serde_json::to_value(v).ok());
                (key, value)
            })
            .collect()
    }
}

impl<V: LastSeen> Keyed<V> {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if self.map.contains_key(key) {
            self.touch(key);
        }
        self.map.get_mut(key)
    }

    /// The entry of `key`, created by `make` if absent. Creating one past `cap` first evicts
    /// the least recently seen tenth; the count of evicted keys is added to `evicted`.
    pub(crate) fn entry(
        &mut self,
        key: &str,
        cap: usize,
        evicted: &mut u64,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        if !self.map.contains_key(key) {
            if self.map.len() >= cap {
                *evicted += self.evict_to(cap.saturating_sub(cap.div_ceil(10).max(1)));
            }
            self.map.insert(key.to_owned(), make());
        }
        self.touch(key);
        // Present: inserted above or found.
        self.map.get_mut(key).expect("entry present")
    }

    /// Removes the keys last seen before `cutoff` (ms); returns how many went.
    pub(crate) fn expire(&mut self, cutoff: i64) -> u64 {
        let before = self.map.len();
        let dirty = &mut self.dirty;
        self.map.retain(|k, v| {
            let keep = v.last_seen() >= cutoff;
            if !keep && !dirty.contains(k) {
                dirty.insert(k.clone());
            }
            keep
        });
        (before - self.map.len()) as u64
    }

    /// Removes the least recently seen keys until `target` remain; returns how many went.
    pub(crate) fn evict_to(&mut self, target: usize) -> u64 {
        if self.map.len() <= target {
            return 0;
        }
        let excess = self.map.len() - target;
        let mut order: Vec<(i64, &String)> =
            self.map.iter().map(|(k, v)| (v.last_seen(), k)).collect();
        order.select_nth_unstable(excess - 1);
        let victims: Vec<String> = order[..excess].iter().map(|(_, k)| (*k).clone()).collect();
        for key in victims {
            self.map.remove(&key);
            self.dirty.insert(key);
        }
        excess as u64
    }
}

/// An event kept in saved state, written compactly as `[ts, "uuid"]`. Version 1 of the state
/// wrote `{"ts": .., "id": ".."}`; both are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit(pub(crate) Trigger);

impl Hit {
    pub(crate) fn new(ts: i64, id: &str) -> Hit {
        Hit(Trigger {
            ts,
            id: id.to_owned(),
        })
    }

    pub(crate) fn ts(&self) -> i64 {
        self.0.ts
    }
}

impl Serialize for Hit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.0.ts, &self.0.id).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Hit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Pair(i64, String),
            Map { ts: i64, id: String },
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Pair(ts, id) | Repr::Map { ts, id } => Hit(Trigger { ts, id }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Seen(i64);

    impl LastSeen for Seen {
        fn last_seen(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn evicts_the_least_recently_seen_past_the_cap() {
        let mut keyed = Keyed::default();
        let mut evicted = 0;
        for i in 0..100 {
            keyed.entry(&format!("k{i:03}"), 100, &mut evicted, || Seen(i));
        }
        assert_eq!((keyed.len(), evicted), (100, 0));
        keyed.entry("new", 100, &mut evicted, || Seen(1_000));
        assert_eq!((keyed.len(), evicted), (91, 10));
        for i in 0..10 {
            assert!(
                keyed.get_mut(&format!("k{i:03}")).is_none(),
                "k{i} is among the oldest"
            );
        }
        assert!(keyed.get_mut("k010").is_some());
        assert!(keyed.get_mut("new").is_some());
    }

    #[test]
    fn expire_removes_what_was_last_seen_before_the_cutoff() {
        let mut keyed = Keyed::default();
        let mut evicted = 0;
        for i in 0..10 {
            keyed.entry(&format!("k{i}"), 100, &mut evicted, || Seen(i));
        }
        assert_eq!(keyed.expire(4), 4);
        assert_eq!(keyed.len(), 6);
        assert!(keyed.get_mut("k3").is_none() && keyed.get_mut("k4").is_some());
    }

    #[test]
    fn hits_are_pairs_and_version_1_objects_still_read() {
        let hit = Hit::new(5, "e1");
        assert_eq!(serde_json::to_string(&hit).unwrap(), r#"[5,"e1"]"#);
        let old: Hit = serde_json::from_str(r#"{"ts":5,"id":"e1"}"#).unwrap();
        assert_eq!(old, hit);
    }

    #[test]
    fn ties_are_broken_by_key_so_eviction_is_deterministic() {
        let build = |order: &[usize]| {
            let mut keyed = Keyed::default();
            let mut evicted = 0;
            for &i in order {
                keyed.entry(&format!("k{i}"), 10, &mut evicted, || Seen(5));
            }
            keyed.entry("last", 10, &mut evicted, || Seen(6));
            let mut keys: Vec<String> = keyed.map.keys().cloned().collect();
            keys.sort();
            keys
        };
        let forward: Vec<usize> = (0..10).collect();
        let backward: Vec<usize> = (0..10).rev().collect();
        assert_eq!(build(&forward), build(&backward));
    }
}

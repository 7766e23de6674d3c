//! Bounded per-key state: every stateful rule keeps one [`Keyed`] map (account, IP, session →
//! its entry), capped at `max_keys_per_rule`. Past the cap the least recently seen keys are
//! evicted, oldest first, a tenth of the cap at a time (so eviction costs O(log n) per insert).
//!
//! Eviction depends only on the map's content (each entry's last-seen time, ties broken by the
//! key), never on the iteration order of the hash map or on when it last ran, so a detector
//! restored from saved state evolves exactly as the one that saved it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// An entry that knows when its key was last seen (`published`, ms).
pub(crate) trait LastSeen {
    fn last_seen(&self) -> i64;
}

/// A capped map from key to entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub(crate) struct Keyed<V> {
    map: HashMap<String, V>,
}

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed {
            map: HashMap::new(),
        }
    }
}

impl<V: LastSeen> Keyed<V> {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
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
        // Present: inserted above or found.
        self.map.get_mut(key).expect("entry present")
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
        for key in &victims {
            self.map.remove(key);
        }
        excess as u64
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

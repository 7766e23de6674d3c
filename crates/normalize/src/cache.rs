//! A small bounded cache for values computed from a string key.
//!
//! Two generations: lookups hit `young` or `old` (promoting from `old`); when
//! `young` holds half the capacity, `old` is dropped and `young` becomes `old`.
//! Entries in use stay, entries unused for a generation go; size never exceeds
//! the capacity and every operation is O(1).

use std::collections::HashMap;
use std::sync::Arc;

/// Bounded string-keyed cache; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct BoundedCache<V> {
    young: HashMap<Box<str>, Arc<V>>,
    old: HashMap<Box<str>, Arc<V>>,
    generation: usize,
}

impl<V> BoundedCache<V> {
    /// A cache holding at most `capacity` entries (at least 2).
    pub(crate) fn new(capacity: usize) -> Self {
        let generation = (capacity / 2).max(1);
        BoundedCache {
            young: HashMap::with_capacity(generation.min(1024)),
            old: HashMap::new(),
            generation,
        }
    }

    /// The value for `key`, computing it with `compute` on a miss.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: &str,
        compute: impl FnOnce(&str) -> V,
    ) -> Arc<V> {
        if let Some(v) = self.young.get(key) {
            return Arc::clone(v);
        }
        let value = match self.old.remove(key) {
            Some(v) => v,
            None => Arc::new(compute(key)),
        };
        if self.young.len() >= self.generation {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key.into(), Arc::clone(&value));
        value
    }

    /// Number of cached entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_stays_within_capacity() {
        let mut cache = BoundedCache::new(8);
        for i in 0..1000 {
            let key = format!("ua-{i}");
            let v = cache.get_or_insert_with(&key, |k| k.len());
            assert_eq!(*v, key.len());
            assert!(cache.len() <= 8, "len {} after {i}", cache.len());
        }
    }

    #[test]
    fn hot_keys_are_computed_once() {
        let mut cache = BoundedCache::new(4);
        let mut computed = 0;
        for i in 0..100 {
            cache.get_or_insert_with("hot", |_| {
                computed += 1;
            });
            cache.get_or_insert_with(&format!("cold-{i}"), |_| ());
        }
        assert_eq!(computed, 1);
    }
}

//! Bounded per-key state: every stateful rule keeps one [`Keyed`] map (account, IP, session →
//! its entry), capped at `max_keys_per_rule`. Past the cap the least recently seen keys are
//! evicted, oldest first, a tenth of the cap at a time (so eviction costs O(log n) per insert).
//!
//! Eviction depends only on the map's content (each entry's last-seen time, ties broken by the
//! key), never on the iteration order of the hash map or on when it last ran, so a detector
//! restored from saved state evolves exactly as the one that saved it.
//!
//! Expiry: the detector asks each map to drop the keys last seen before `latest − horizon`
//! whenever the latest `published` enters a new minute ([`Keyed::expire`]). Which keys go is
//! exactly "every key with `last_seen < latest − horizon`" at each of those scans, but the map
//! does not visit every key to find them: each key has one entry in a schedule of minutes
//! ([`Schedule`]), the minute from which a scan could remove it given the last-seen time it
//! was scheduled with. A scan only visits the keys of the minutes that came due: each is
//! removed if it really is expired, or else scheduled again from its actual last-seen time.
//! Touching a key leaves its entry alone (a later last-seen time only makes the key expire
//! later, and the scan that finds it not expired moves it), except when its last-seen time
//! went *down* (a late event can replace a user's last sign-in with an older one), which moves
//! it to an earlier minute at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::Trigger;
use crate::json_out::{write_i64, write_map, write_plain_str, write_str, WriteJson};

/// How often (in `published` time) the detector drops the keys every rule is done with: the
/// width of one [`Schedule`] bucket.
pub(crate) const EXPIRE_EVERY_MS: i64 = 60_000;

/// An entry that knows when its key was last seen (`published`, ms).
pub(crate) trait LastSeen {
    fn last_seen(&self) -> i64;
}

/// One key's entry and its place in the schedule.
#[derive(Debug, Clone)]
struct Slot<V> {
    value: V,
    /// The minute whose bucket holds this key; `None` until the schedule is running.
    due: Option<i64>,
    /// The last-seen time `due` was computed from (a lower one may need an earlier minute).
    basis: i64,
}

/// The schedule's settings, known from the first [`Keyed::expire`] on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Running {
    /// How long after its last-seen time a key is kept (the rule's horizon, ms).
    horizon: i64,
    /// The minute of the latest scan: a key is never scheduled for it or before it again.
    scanned: i64,
}

impl Running {
    /// The first minute whose scan may remove a key last seen at `last_seen`: a scan at
    /// `latest` removes it when `last_seen < latest − horizon`, i.e. `latest ≥ last_seen +
    /// horizon + 1`; a scan runs at the first event of a minute, so the scan of that minute
    /// may still come too early, the next one will not. Never a minute already scanned.
    fn minute_for(&self, last_seen: i64) -> i64 {
        let earliest = i128::from(last_seen) + i128::from(self.horizon) + 1;
        let minute = earliest.div_euclid(i128::from(EXPIRE_EVERY_MS));
        // Past the last minute any `published` can fall in: never due, like the scan's
        // saturating cutoff.
        let minute = i64::try_from(minute).unwrap_or(i64::MAX);
        minute.max(self.scanned.saturating_add(1))
    }
}

/// A key of a [`Keyed`] map: one allocation shared by the map, the schedule and the set of
/// changed keys (a rule may hold hundreds of thousands of keys).
type Key = Arc<str>;

/// The hasher of the key maps. Keys come from events (user names, IPs, session ids), so it is
/// seeded at random per process like std's (no crafted collisions), but costs a fraction of
/// SipHash per lookup.
type KeyHasher = ahash::RandomState;

/// A set of keys hashed with [`KeyHasher`].
type KeySet = HashSet<Key, KeyHasher>;

/// Minute → the keys to look at when a scan reaches that minute. Once running, every key of
/// the map is in exactly one bucket, the one its [`Slot::due`] names.
#[derive(Debug, Clone, Default)]
struct Schedule {
    buckets: BTreeMap<i64, Vec<Key>>,
    /// `None` for a new or restored map: the first scan schedules every key.
    running: Option<Running>,
}

impl Schedule {
    fn insert(&mut self, minute: i64, key: &Key) {
        self.buckets.entry(minute).or_default().push(key.clone());
    }

    fn remove(&mut self, minute: i64, key: &str) {
        if let Some(bucket) = self.buckets.get_mut(&minute) {
            if let Some(i) = bucket.iter().position(|k| &**k == key) {
                bucket.swap_remove(i);
            }
            if bucket.is_empty() {
                self.buckets.remove(&minute);
            }
        }
    }

    /// After a key's entry was created or changed: a new key gets its bucket; a key whose
    /// last-seen time went down moves to an earlier one if it needs to.
    fn touched<V: LastSeen>(&mut self, key: &Key, slot: &mut Slot<V>) {
        let Some(running) = self.running else {
            return;
        };
        let seen = slot.value.last_seen();
        match slot.due {
            None => {
                let minute = running.minute_for(seen);
                self.insert(minute, key);
                slot.due = Some(minute);
                slot.basis = seen;
            }
            Some(due) if seen < slot.basis => {
                let minute = running.minute_for(seen);
                if minute < due {
                    self.remove(due, key);
                    self.insert(minute, key);
                    slot.due = Some(minute);
                }
                slot.basis = seen;
            }
            Some(_) => {}
        }
    }
}

/// A capped map from key to entry. It remembers which keys changed (created, touched, expired
/// or evicted) since they were last cleared ([`Keyed::clear_changes`]), so that only those are
/// written to the state journal after each batch ([`Keyed::changes`]), not the whole map.
/// Saved as the plain map of key → entry.
#[derive(Debug, Clone)]
pub(crate) struct Keyed<V> {
    map: HashMap<Key, Slot<V>, KeyHasher>,
    /// Keys changed since the last [`Keyed::clear_changes`] (not saved).
    dirty: KeySet,
    /// When to look at each key for expiry (not saved: rebuilt from the map).
    schedule: Schedule,
}

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed {
            map: HashMap::default(),
            dirty: KeySet::default(),
            schedule: Schedule::default(),
        }
    }
}

/// Two maps are equal when they hold the same entries (whatever changed since the last save,
/// whatever their schedule).
impl<V: PartialEq> PartialEq for Keyed<V> {
    fn eq(&self, other: &Self) -> bool {
        self.map.len() == other.map.len()
            && self
                .map
                .iter()
                .all(|(k, s)| other.map.get(k).is_some_and(|o| o.value == s.value))
    }
}

impl<V: Serialize> Serialize for Keyed<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.map.iter().map(|(k, slot)| (&**k, &slot.value)))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Keyed<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = HashMap::<String, V>::deserialize(d)?;
        Ok(Keyed {
            map: map
                .into_iter()
                .map(|(k, value)| {
                    (
                        Key::from(k),
                        Slot {
                            value,
                            due: None,
                            basis: i64::MIN,
                        },
                    )
                })
                .collect(),
            dirty: KeySet::default(),
            schedule: Schedule::default(),
        })
    }
}

/// A key's entry, borrowed from its [`Keyed`] map; when dropped, the key's place in the
/// expiry schedule is brought up to date.
pub(crate) struct EntryMut<'a, V: LastSeen> {
    key: Key,
    slot: &'a mut Slot<V>,
    schedule: &'a mut Schedule,
}

impl<V: LastSeen> Deref for EntryMut<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.slot.value
    }
}

impl<V: LastSeen> DerefMut for EntryMut<'_, V> {
    fn deref_mut(&mut self) -> &mut V {
        &mut self.slot.value
    }
}

impl<V: LastSeen> Drop for EntryMut<'_, V> {
    fn drop(&mut self) {
        self.schedule.touched(&self.key, self.slot);
    }
}

impl<V> Keyed<V> {
    /// Marks `key` (of the map) changed.
    fn touch(dirty: &mut KeySet, key: &Key) {
        // One lookup: cloning the `Arc` costs less than hashing the key a second time.
        dirty.insert(key.clone());
    }

    /// Forgets which keys changed (after a full state was taken, or the changes were).
    pub(crate) fn clear_changes(&mut self) {
        self.dirty.clear();
    }

    /// The keys changed since the changes were last cleared ([`Keyed::clear_changes`]), each
    /// with its entry now, to serialize; `None` when none changed.
    pub(crate) fn changes(&self) -> Option<Changes<'_, V>> {
        if self.dirty.is_empty() {
            return None;
        }
        let mut keys: Vec<Key> = self.dirty.iter().cloned().collect();
        // Key order, as the `BTreeMap` of `StateChanges` (the form the journal is read in).
        keys.sort_unstable();
        Some(Changes { keyed: self, keys })
    }
}

/// The changed keys of a [`Keyed`] map, written as a JSON map of key → its entry now (`null`:
/// removed), in key order, straight from the map ([`Changes::write_json`]): no JSON tree is
/// built for a journal line.
pub(crate) struct Changes<'a, V> {
    keyed: &'a Keyed<V>,
    keys: Vec<Key>,
}

impl<V: WriteJson> Changes<'_, V> {
    /// The same JSON as the `Serialize` impl, written directly ([`crate::json_out`]).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        write_map(
            out,
            self.keys
                .iter()
                .map(|key| (&**key, self.keyed.map.get(key).map(|slot| &slot.value))),
            |out, value| match value {
                Some(value) => value.write_json(out),
                None => out.extend_from_slice(b"null"),
            },
        );
    }
}

impl<V: LastSeen> Keyed<V> {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn get_mut<'a>(&'a mut self, key: &str) -> Option<EntryMut<'a, V>> {
        let (key, _) = self.map.get_key_value(key)?;
        let key = key.clone();
        Keyed::<V>::touch(&mut self.dirty, &key);
        let slot = self.map.get_mut(&key)?;
        Some(EntryMut {
            key,
            slot,
            schedule: &mut self.schedule,
        })
    }

    /// The entry of `key`, created by `make` if absent. Creating one past `cap` first evicts
    /// the least recently seen tenth; the count of evicted keys is added to `evicted`.
    pub(crate) fn entry<'a>(
        &'a mut self,
        key: &str,
        cap: usize,
        evicted: &mut u64,
        make: impl FnOnce() -> V,
    ) -> EntryMut<'a, V> {
        let key = match self.map.get_key_value(key) {
            Some((key, _)) => key.clone(),
            None => {
                if self.map.len() >= cap {
                    *evicted += self.evict_to(cap.saturating_sub(cap.div_ceil(10).max(1)));
                }
                Key::from(key)
            }
        };
        Keyed::<V>::touch(&mut self.dirty, &key);
        // Found, or absent and inserted here: one lookup either way.
        let slot = self.map.entry(key.clone()).or_insert_with(|| Slot {
            value: make(),
            due: None,
            basis: i64::MIN,
        });
        EntryMut {
            key,
            slot,
            schedule: &mut self.schedule,
        }
    }

    /// The scan at `latest` (ms): removes the keys last seen before `latest − horizon`
    /// (saturating); returns how many went. Only the keys whose minute came due are looked at
    /// (see the module's documentation); the result is the same as looking at every key.
    pub(crate) fn expire(&mut self, latest: i64, horizon: i64) -> u64 {
        let cutoff = latest.saturating_sub(horizon);
        let minute = latest.div_euclid(EXPIRE_EVERY_MS);
        if !matches!(self.schedule.running, Some(r) if r.horizon == horizon) {
            self.reschedule_all(horizon, minute);
        }
        // Keys put back are never due before the next minute.
        let next = Running {
            horizon,
            scanned: minute,
        };
        let mut removed = 0;
        while let Some(entry) = self.schedule.buckets.first_entry() {
            if *entry.key() > minute {
                break;
            }
            let keys = entry.remove();
            for key in keys {
                let Some(slot) = self.map.get_mut(&key) else {
                    continue;
                };
                let seen = slot.value.last_seen();
                if seen < cutoff {
                    self.map.remove(&key);
                    self.dirty.insert(key);
                    removed += 1;
                } else {
                    let again = next.minute_for(seen);
                    slot.due = Some(again);
                    slot.basis = seen;
                    self.schedule.buckets.entry(again).or_default().push(key);
                }
            }
        }
        self.schedule.running = Some(next);
        removed
    }

    /// Puts every key in the bucket of its last-seen time (a new or restored map, or another
    /// horizon); the scan at `minute` follows.
    fn reschedule_all(&mut self, horizon: i64, minute: i64) {
        // Minutes before `minute` are due now anyway.
        let running = Running {
            horizon,
            scanned: minute.saturating_sub(1),
        };
        self.schedule.buckets.clear();
        for (key, slot) in &mut self.map {
            let seen = slot.value.last_seen();
            let due = running.minute_for(seen);
            slot.due = Some(due);
            slot.basis = seen;
            self.schedule
                .buckets
                .entry(due)
                .or_default()
                .push(key.clone());
        }
        self.schedule.running = Some(running);
    }

    /// Removes the least recently seen keys until `target` remain; returns how many went.
    pub(crate) fn evict_to(&mut self, target: usize) -> u64 {
        if self.map.len() <= target {
            return 0;
        }
        let excess = self.map.len() - target;
        let mut order: Vec<(i64, &Key)> = self
            .map
            .iter()
            .map(|(k, s)| (s.value.last_seen(), k))
            .collect();
        order.select_nth_unstable(excess - 1);
        let victims: KeySet = order[..excess].iter().map(|(_, k)| (*k).clone()).collect();
        let mut minutes: Vec<i64> = Vec::new();
        for key in &victims {
            if let Some(slot) = self.map.remove(key) {
                if let Some(due) = slot.due {
                    minutes.push(due);
                }
            }
            self.dirty.insert(key.clone());
        }
        minutes.sort_unstable();
        minutes.dedup();
        for minute in minutes {
            if let Some(bucket) = self.schedule.buckets.get_mut(&minute) {
                bucket.retain(|k| !victims.contains(k));
                if bucket.is_empty() {
                    self.schedule.buckets.remove(&minute);
                }
            }
        }
        excess as u64
    }
}

/// An event's `uuid` as the state keeps it: the 16 bytes of a UUID written the way Okta writes
/// them (lowercase hex, hyphenated: 36 characters), else the text itself. Both give back the
/// exact text ([`EventId::as_string`]), so the alerts and the saved state are the same; the
/// first takes no allocation (a session key holds one for as long as the session lives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EventId {
    /// A canonical lowercase UUID.
    Uuid([u8; 16]),
    /// Any other text.
    Text(Box<str>),
}

impl EventId {
    pub(crate) fn new(id: &str) -> EventId {
        match parse_uuid(id) {
            Some(bytes) => EventId::Uuid(bytes),
            None => EventId::Text(id.into()),
        }
    }

    /// The text it was made from.
    pub(crate) fn as_string(&self) -> String {
        self.with_text(str::to_owned)
    }

    /// Calls `f` with the text it was made from, a UUID formatted on the stack: serializing
    /// one (every journal line holds the changed keys' events) takes no allocation.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            EventId::Uuid(bytes) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut out = [b'-'; 36];
                let mut at = 0;
                for (i, byte) in bytes.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        at += 1;
                    }
                    out[at] = HEX[usize::from(byte >> 4)];
                    out[at + 1] = HEX[usize::from(byte & 0xf)];
                    at += 2;
                }
                // Hex digits and hyphens: always UTF-8.
                f(std::str::from_utf8(&out).unwrap_or_default())
            }
            EventId::Text(text) => f(text),
        }
    }
}

/// The bytes of `id` when it is a UUID in canonical lowercase form (so that formatting them
/// gives `id` back exactly).
fn parse_uuid(id: &str) -> Option<[u8; 16]> {
    let text = id.as_bytes();
    if text.len() != 36 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    // Two digits per byte, a hyphen before bytes 4, 6, 8 and 10 (at 8, 13, 18 and 23).
    let mut at = 0;
    for (i, byte) in out.iter_mut().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            if text[at] != b'-' {
                return None;
            }
            at += 1;
        }
        *byte = (nibble(text[at])? << 4) | nibble(text[at + 1])?;
        at += 2;
    }
    Some(out)
}

impl WriteJson for EventId {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            // Hex digits and hyphens: nothing to escape.
            EventId::Uuid(_) => self.with_text(|text| write_plain_str(out, text.as_bytes())),
            EventId::Text(text) => write_str(out, text),
        }
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_text(|text| s.serialize_str(text))
    }
}

/// An event kept in saved state, written compactly as `[ts, "uuid"]`. Version 1 of the state
/// wrote `{"ts": .., "id": ".."}`; both are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    ts: i64,
    id: EventId,
}

impl Hit {
    pub(crate) fn new(ts: i64, id: &str) -> Hit {
        Hit {
            ts,
            id: EventId::new(id),
        }
    }

    pub(crate) fn ts(&self) -> i64 {
        self.ts
    }

    /// The event as an alert names it.
    pub(crate) fn trigger(&self) -> Trigger {
        Trigger {
            ts: self.ts,
            id: self.id.as_string(),
        }
    }
}

impl WriteJson for Hit {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        write_i64(out, self.ts);
        out.push(b',');
        self.id.write_json(out);
        out.push(b']');
    }
}

impl Serialize for Hit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.ts, &self.id).serialize(s)
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
            Repr::Pair(ts, id) | Repr::Map { ts, id } => Hit::new(ts, &id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Seen(i64);

    impl LastSeen for Seen {
        fn last_seen(&self) -> i64 {
            self.0
        }
    }

    impl<V: LastSeen> Keyed<V> {
        /// Every key in exactly one bucket, the one its slot names, once the schedule runs;
        /// no bucket at or before the last scanned minute.
        fn check_schedule(&self) {
            let Some(running) = self.schedule.running else {
                return;
            };
            let mut seen = HashSet::new();
            for (minute, bucket) in &self.schedule.buckets {
                assert!(*minute > running.scanned, "bucket {minute} already scanned");
                assert!(!bucket.is_empty(), "empty bucket {minute}");
                for key in bucket {
                    assert!(seen.insert(key.clone()), "{key} scheduled twice");
                    let slot = self.map.get(key).expect("a scheduled key is in the map");
                    assert_eq!(slot.due, Some(*minute), "{key}");
                }
            }
            assert_eq!(seen.len(), self.map.len(), "every key scheduled");
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
        // Cutoff 4: latest 104, horizon 100.
        assert_eq!(keyed.expire(104, 100), 4);
        assert_eq!(keyed.len(), 6);
        assert!(keyed.get_mut("k3").is_none() && keyed.get_mut("k4").is_some());
        keyed.check_schedule();
    }

    #[test]
    fn a_scan_visits_only_the_keys_whose_minute_came() {
        let mut keyed = Keyed::default();
        let mut evicted = 0;
        let horizon = 10 * EXPIRE_EVERY_MS;
        keyed.expire(0, horizon);
        for i in 0..1_000 {
            keyed.entry(&format!("k{i}"), 10_000, &mut evicted, || Seen(i));
        }
        keyed.check_schedule();
        // All 1,000 keys are due in minute 10; none before.
        assert_eq!(keyed.schedule.buckets.len(), 1);
        for minute in 1..10 {
            assert_eq!(keyed.expire(minute * EXPIRE_EVERY_MS, horizon), 0);
            assert_eq!(
                keyed.schedule.buckets.len(),
                1,
                "nothing visited at {minute}"
            );
        }
        assert_eq!(keyed.expire(horizon + 500, horizon), 500);
        assert_eq!(keyed.len(), 500);
        keyed.check_schedule();
    }

    #[test]
    fn a_last_seen_time_that_goes_down_moves_the_key_earlier() {
        let mut keyed = Keyed::default();
        let mut evicted = 0;
        let horizon = 5 * EXPIRE_EVERY_MS;
        keyed.expire(10 * EXPIRE_EVERY_MS, horizon);
        keyed.entry("k", 10, &mut evicted, || Seen(10 * EXPIRE_EVERY_MS));
        // A late event puts the key back by three minutes.
        if let Some(mut e) = keyed.get_mut("k") {
            e.0 = 7 * EXPIRE_EVERY_MS;
        }
        keyed.check_schedule();
        assert_eq!(keyed.expire(12 * EXPIRE_EVERY_MS + 1, horizon), 1);
    }

    #[test]
    fn event_ids_give_back_their_exact_text() {
        for id in [
            "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "DC9FD3C0-598C-11EF-8478-2B7584BF8D5A",
            "dc9fd3c0598c11ef84782b7584bf8d5a",
            "dc9fd3c0-598c-11ef-8478-2b7584bf8d5",
            "dc9fd3c0-598c-11ef-8478-2b7584bf8d5g",
            "dc9fd3c0+598c-11ef-8478-2b7584bf8d5a",
            "dc9fd3c05-98c-11ef-8478-2b7584bf8d5a",
            "dc9fd3c0-598c-11ef-84782-b7584bf8d5a",
            "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a-",
            "évènement-ü",
            "",
        ] {
            let compact = EventId::new(id);
            assert_eq!(compact.as_string(), id);
            assert_eq!(
                serde_json::to_string(&compact).unwrap(),
                serde_json::to_string(id).unwrap()
            );
        }
        assert!(matches!(
            EventId::new("dc9fd3c0-598c-11ef-8478-2b7584bf8d5a"),
            EventId::Uuid(_)
        ));
        assert!(matches!(
            EventId::new("DC9FD3C0-598C-11EF-8478-2B7584BF8D5A"),
            EventId::Text(_)
        ));
    }

    #[test]
    fn hits_are_pairs_and_version_1_objects_still_read() {
        let hit = Hit::new(5, "e1");
        assert_eq!(serde_json::to_string(&hit).unwrap(), r#"[5,"e1"]"#);
        let old: Hit = serde_json::from_str(r#"{"ts":5,"id":"e1"}"#).unwrap();
        assert_eq!(old, hit);
    }

    #[test]
    fn saved_as_the_plain_map() {
        let mut keyed = Keyed::default();
        let mut evicted = 0;
        keyed.entry("a", 10, &mut evicted, || Seen(5));
        keyed.expire(5, 100);
        assert_eq!(serde_json::to_string(&keyed).unwrap(), r#"{"a":5}"#);
        let back: Keyed<Seen> = serde_json::from_str(r#"{"a":5}"#).unwrap();
        assert_eq!(back, keyed);
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
            let mut keys: Vec<String> = keyed.map.keys().map(|k| k.to_string()).collect();
            keys.sort();
            keys
        };
        let forward: Vec<usize> = (0..10).collect();
        let backward: Vec<usize> = (0..10).rev().collect();
        assert_eq!(build(&forward), build(&backward));
    }

    /// The expiry of the previous version: at every scan, every key visited.
    #[derive(Default)]
    struct Reference {
        map: HashMap<String, i64>,
    }

    impl Reference {
        fn expire(&mut self, cutoff: i64) -> u64 {
            let before = self.map.len();
            self.map.retain(|_, seen| *seen >= cutoff);
            (before - self.map.len()) as u64
        }

        fn make_room(&mut self, cap: usize) -> u64 {
            if self.map.len() < cap {
                return 0;
            }
            let target = cap.saturating_sub(cap.div_ceil(10).max(1));
            let mut order: Vec<(i64, String)> =
                self.map.iter().map(|(k, v)| (*v, k.clone())).collect();
            order.sort();
            let excess = self.map.len().saturating_sub(target);
            for (_, k) in order.into_iter().take(excess) {
                self.map.remove(&k);
            }
            excess as u64
        }
    }

    /// How an event changes its key's last-seen time, as the rules do.
    #[derive(Debug, Clone, Copy)]
    enum Touch {
        /// The latest of the two (threshold and spraying windows).
        Max,
        /// The event's own time, even when older (the last sign-in of the geo rule).
        Replace,
        /// Starts over past the horizon, else the latest (sessions).
        Reset,
    }

    fn touch_strategy() -> impl Strategy<Value = Touch> {
        prop_oneof![Just(Touch::Max), Just(Touch::Replace), Just(Touch::Reset)]
    }

    /// One event: its key, how far `published` moves (negative: a late event), how it
    /// touches, and whether the state is saved and restored before it.
    fn event_strategy() -> impl Strategy<Value = (u8, i64, Touch, bool)> {
        (
            0u8..12,
            prop_oneof![
                6 => 0i64..40_000,
                2 => 40_000i64..400_000,
                2 => -400_000i64..0,
            ],
            touch_strategy(),
            proptest::bool::weighted(0.03),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// Driven as the detector drives it (a scan whenever the latest `published` enters a
        /// new minute), the scheduled expiry removes the same keys at the same scans as the
        /// scan over every key, also with late events, the cap, and save/restore between
        /// events; every key is always in exactly one bucket.
        #[test]
        fn expires_exactly_like_the_full_scan(
            start in prop_oneof![Just(0i64), Just(-3_600_000i64), Just(1_764_979_200_000i64), 0i64..120_000],
            horizon in prop_oneof![Just(0i64), Just(1), Just(59_999), Just(60_000), Just(90_000), Just(600_000), Just(i64::MAX), 0i64..1_000_000],
            cap in prop_oneof![Just(4usize), Just(1_000)],
            events in proptest::collection::vec(event_strategy(), 1..300),
        ) {
            let mut keyed: Keyed<Seen> = Keyed::default();
            let mut reference = Reference::default();
            let mut latest = i64::MIN;
            let mut ts = start;
            let (mut evicted, mut ref_evicted) = (0u64, 0u64);
            for (key, step, touch, restore) in events {
                if restore {
                    let saved = serde_json::to_string(&keyed).unwrap();
                    keyed = serde_json::from_str(&saved).unwrap();
                }
                ts = ts.saturating_add(step);
                if ts > latest {
                    let due = latest == i64::MIN
                        || ts.div_euclid(EXPIRE_EVERY_MS) != latest.div_euclid(EXPIRE_EVERY_MS);
                    latest = ts;
                    if due {
                        let got = keyed.expire(latest, horizon);
                        let want = reference.expire(latest.saturating_sub(horizon));
                        prop_assert_eq!(got, want, "keys removed by the scan at {}", latest);
                    }
                }
                let key = format!("k{key}");
                if !reference.map.contains_key(&key) {
                    ref_evicted += reference.make_room(cap);
                }
                // A threshold window starts at 0 and takes the event's time (its default).
                let init = if matches!(touch, Touch::Max) { 0 } else { ts };
                let r = reference.map.entry(key.clone()).or_insert(init);
                match touch {
                    Touch::Max => {
                        let mut e = keyed.entry(&key, cap, &mut evicted, || Seen(0));
                        e.0 = e.0.max(ts);
                        *r = (*r).max(ts);
                    }
                    Touch::Replace => {
                        if keyed.contains(&key) {
                            if let Some(mut e) = keyed.get_mut(&key) {
                                e.0 = ts;
                            }
                        } else {
                            keyed.entry(&key, cap, &mut evicted, || Seen(ts));
                        }
                        *r = ts;
                    }
                    Touch::Reset => {
                        let mut e = keyed.entry(&key, cap, &mut evicted, || Seen(ts));
                        if ts.saturating_sub(e.0) > horizon {
                            e.0 = ts;
                        } else {
                            e.0 = e.0.max(ts);
                        }
                        if ts.saturating_sub(*r) > horizon {
                            *r = ts;
                        } else {
                            *r = (*r).max(ts);
                        }
                    }
                }
                prop_assert_eq!(evicted, ref_evicted);
                let got: BTreeMap<String, i64> =
                    keyed.map.iter().map(|(k, s)| (k.to_string(), s.value.0)).collect();
                let want: BTreeMap<String, i64> =
                    reference.map.iter().map(|(k, v)| (k.clone(), *v)).collect();
                prop_assert_eq!(got, want);
                keyed.check_schedule();
            }
        }
    }
}

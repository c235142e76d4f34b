//! A hash map split over many locks, for state that every request touches.
//!
//! Keys are client-chosen bytes, so both the shard choice and each shard's map use a seeded
//! hasher. Callers hold a shard's lock for one short, synchronous piece of work.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use foldhash::fast::RandomState;
use parking_lot::Mutex;

pub type Shard<K, V> = HashMap<K, V, RandomState>;

/// One lock and its map, on a cache line of its own so neighbouring locks do not contend.
#[repr(align(128))]
struct Padded<K, V>(Mutex<Shard<K, V>>);

pub struct Sharded<K, V> {
    shards: Box<[Padded<K, V>]>,
    /// foldhash's quality variant, whose every output bit is mixed: with the fast one, one seed
    /// in about 300 left a shard of 16 empty for the keys 0..1000.
    hasher: foldhash::quality::RandomState,
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    pub fn new(shards: usize) -> Self {
        let shards = (0..shards.max(1)).map(|_| Padded(Mutex::new(Shard::default()))).collect();
        Self { shards, hasher: foldhash::quality::RandomState::default() }
    }

    /// The shard that holds `key`.
    pub fn shard(&self, key: &K) -> &Mutex<Shard<K, V>> {
        // The high bits: the low ones also pick the bucket inside the shard's own map.
        let hash = self.hasher.hash_one(key);
        &self.shards[(hash >> 40) as usize % self.shards.len()].0
    }

    /// Every shard, one at a time.
    pub fn shards(&self) -> impl Iterator<Item = &Mutex<Shard<K, V>>> {
        self.shards_in(0, 1)
    }

    /// The shards of part `index` of `count` (every `count`th from `index`), for sweeps done
    /// a part at a time.
    pub fn shards_in(
        &self,
        index: usize,
        count: usize,
    ) -> impl Iterator<Item = &Mutex<Shard<K, V>>> {
        self.shards.iter().skip(index).step_by(count.max(1)).map(|padded| &padded.0)
    }
}

/// Gives memory back once a map holds far fewer entries than it has room for.
pub fn shrink_if_sparse<K: Hash + Eq, V>(map: &mut Shard<K, V>) {
    if map.capacity() > 4 * map.len().max(64) {
        map.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_in_the_same_shard() {
        let map: Sharded<u64, u64> = Sharded::new(16);
        map.shard(&7).lock().insert(7, 70);
        assert_eq!(map.shard(&7).lock().get(&7), Some(&70));
        let total: usize = map.shards().map(|shard| shard.lock().len()).sum();
        assert_eq!(total, 1);
    }

    #[test]
    fn keys_spread_over_shards() {
        let map: Sharded<u64, ()> = Sharded::new(16);
        for key in 0..1_000 {
            map.shard(&key).lock().insert(key, ());
        }
        assert!(map.shards().all(|shard| !shard.lock().is_empty()));
    }

    #[test]
    fn sparse_maps_shrink() {
        let mut map: Shard<u32, u32> = Shard::default();
        map.extend((0..10_000).map(|n| (n, n)));
        map.retain(|k, _| *k < 10);
        shrink_if_sparse(&mut map);
        assert!(map.capacity() < 1_000);
    }
}

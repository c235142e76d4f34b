//! The peer ids of one peer set, in positions `0..len`, each found by its id, with the key each
//! is bound to (`domain::identity`) and, in a second array of the same block, whatever else the
//! set keeps of that peer (`E`, its entry).
//!
//! What `indexmap::IndexMap` does, in less room. The ids sit in an array without their hash.
//! Most swarms are small (at 1,000,000 peers in 100,000 torrents the median torrent has two or
//! three), and for them a search is a scan of the ids: a few adjacent cache lines, no hashing,
//! and no table to keep. Past `INDEXED` ids a hash table of 32-bit positions finds an id in
//! O(1); it is built then, and dropped again when the set shrinks well below. A hash is worked
//! out again when the table grows, from the ids the `Vec` holds in order. The key sits beside
//! the id because it is read only once the id is found, from the line that finding it read.
//! The block grows in small steps (`domain::growth`): doubling left a third of it empty.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::columns::Columns;
use super::identity::PeerKey;
use super::ids::PeerId;

/// From how many ids on a set keeps a table: below, a scan of at most this many 24-byte ids
/// (six cache lines, read in order) is about as quick as hashing and probing.
pub const INDEXED: usize = 16;

/// One seeded hasher for every set: ids are chosen by clients, who could otherwise aim them
/// all at one bucket. A seed per set cost every torrent 8 bytes and bought nothing more.
static HASHER: LazyLock<RandomState> = LazyLock::new(RandomState::default);

fn hash(id: &PeerId) -> u64 {
    HASHER.hash_one(id)
}

/// One peer's id and the key it is bound to.
#[derive(Debug, Clone, Copy)]
struct Held {
    id: PeerId,
    key: Option<PeerKey>,
}

#[derive(Debug, Clone)]
pub struct PeerIds<E: Copy> {
    /// Ids with their keys, and beside them, position for position, the entries.
    ids: Columns<Held, E>,
    /// Positions in `ids`, found by the hash of the id there; only past `INDEXED` ids.
    /// Inline, empty and unallocated below: boxed, it cost large swarms a cache miss a lookup.
    positions: Option<HashTable<u32>>,
}

impl<E: Copy> Default for PeerIds<E> {
    fn default() -> Self {
        Self { ids: Columns::default(), positions: None }
    }
}

impl<E: Copy> PeerIds<E> {
    /// Most ids a set holds: positions are 32-bit.
    pub const MAX: usize = Columns::<Held, E>::MAX;

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.ids.capacity()
    }

    pub fn iter(&self) -> impl Iterator<Item = &PeerId> {
        self.ids.firsts().iter().map(|held| &held.id)
    }

    /// The entries, by position.
    pub fn entries(&self) -> &[E] {
        self.ids.seconds()
    }

    /// The entry of the peer at `at`, writable.
    pub fn entry_mut(&mut self, at: usize) -> &mut E {
        &mut self.ids.both_mut().1[at]
    }

    /// Whether the set keeps a hash table now.
    pub fn indexed(&self) -> bool {
        self.positions.is_some()
    }

    /// Where `id` stands, if it is here.
    pub fn position(&self, id: &PeerId) -> Option<usize> {
        let ids = self.ids.firsts();
        match &self.positions {
            Some(positions) => {
                positions.find(hash(id), |&at| ids[at as usize].id == *id).map(|&at| at as usize)
            }
            None => ids.iter().position(|held| held.id == *id),
        }
    }

    /// The key the peer at `at` is bound to, if any.
    pub fn key(&self, at: usize) -> Option<PeerKey> {
        self.ids.firsts()[at].key
    }

    /// Binds the peer at `at` to `key`.
    pub fn set_key(&mut self, at: usize, key: Option<PeerKey>) {
        self.ids.both_mut().0[at].key = key;
    }

    /// Appends an id that is not here yet, bound to `key`, with its entry; returns its
    /// position, or `None` when the set already holds `MAX` ids.
    pub fn push(&mut self, id: PeerId, key: Option<PeerKey>, entry: E) -> Option<usize> {
        debug_assert!(self.position(&id).is_none(), "pushed an id already held");
        // Below `MAX`, so it fits in 32 bits.
        let at = self.ids.push(Held { id, key }, entry)? as u32;
        if let Some(positions) = &mut self.positions {
            let ids = self.ids.firsts();
            let rehash = |&at: &u32| hash(&ids[at as usize].id);
            positions.insert_unique(hash(&id), at, rehash);
        } else if self.ids.len() > INDEXED {
            self.index();
        }
        Some(at as usize)
    }

    /// Exchanges the ids and entries at positions `a` and `b`.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        if self.positions.is_some() {
            *self.slot_of(a) = b as u32;
            *self.slot_of(b) = a as u32;
        }
        self.ids.swap(a, b);
    }

    /// Removes the id and entry at `at`, moving the last ones into their place.
    pub fn swap_remove(&mut self, at: usize) {
        if let Some(positions) = &mut self.positions {
            let hash = hash(&self.ids.firsts()[at].id);
            let slot = positions.find_entry(hash, |&held| held as usize == at);
            slot.expect("every position is in the table").remove();
            let last = self.ids.len() - 1;
            if at != last {
                *self.slot_of(last) = at as u32;
            }
        }
        self.ids.swap_remove(at);
    }

    /// Keeps the peers for which `keep`, given each position and entry, says true, in their
    /// order; `keep` sees every position once, in order. The table is built again only if
    /// anything went.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &E) -> bool) {
        let before = self.ids.len();
        self.ids.retain(|at, _, entry| keep(at, entry));
        if self.ids.len() != before {
            self.positions = None;
            if self.ids.len() > INDEXED {
                self.index();
            }
        }
    }

    /// Gives back the room of peers that went; a table for few ids goes too.
    pub fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        if self.ids.len() <= INDEXED / 2 {
            self.positions = None;
        }
        let Self { positions, ids } = self;
        if let Some(positions) = positions {
            positions.shrink_to_fit(|&at| hash(&ids.firsts()[at as usize].id));
        }
    }

    /// Builds the table from the ids, in order.
    fn index(&mut self) {
        let ids = self.ids.firsts();
        let mut positions = HashTable::with_capacity(ids.len());
        let rehash = |&at: &u32| hash(&ids[at as usize].id);
        for (at, held) in ids.iter().enumerate() {
            // Fits in 32 bits: `push` refuses an id past `MAX`.
            positions.insert_unique(hash(&held.id), at as u32, rehash);
        }
        self.positions = Some(positions);
    }

    /// The table's slot that holds position `at`; only called while there is a table.
    fn slot_of(&mut self, at: usize) -> &mut u32 {
        let hash = hash(&self.ids.firsts()[at].id);
        let positions = self.positions.as_mut().expect("called only with a table");
        positions.find_mut(hash, |&held| held as usize == at).expect("every position is held")
    }
}

impl<E: Copy> std::ops::Index<usize> for PeerIds<E> {
    type Output = PeerId;

    fn index(&self, at: usize) -> &PeerId {
        &self.ids.firsts()[at].id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Push(u8),
        Swap(usize, usize),
        SwapRemove(usize),
        Retain(Vec<bool>),
        Shrink,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            // Ids from a small range, so that pushes also meet ids already held.
            4 => (0u8..64).prop_map(Step::Push),
            2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Step::Swap(a, b)),
            2 => any::<usize>().prop_map(Step::SwapRemove),
            1 => proptest::collection::vec(any::<bool>(), 0..70).prop_map(Step::Retain),
            1 => Just(Step::Shrink),
        ]
    }

    fn id(n: u8) -> PeerId {
        PeerId([n; 20])
    }

    /// Each test id's own key, so that a key found beside the wrong id shows.
    fn key_of(id: &PeerId) -> Option<PeerKey> {
        PeerKey::of(&id.0[..1])
    }

    proptest::proptest! {
        /// Every step leaves the set holding what a plain `Vec` searched from end to end
        /// holds, each id found at its position with its own key and entry, and nothing else
        /// found.
        #[test]
        fn behaves_as_a_vec_searched_by_id(steps in proptest::collection::vec(step(), 0..400)) {
            let mut set: PeerIds<u8> = PeerIds::default();
            let mut model: Vec<PeerId> = Vec::new();
            for step in steps {
                match step {
                    Step::Push(n) if !model.contains(&id(n)) => {
                        proptest::prop_assert_eq!(set.push(id(n), key_of(&id(n)), n), Some(model.len()));
                        model.push(id(n));
                    }
                    Step::Push(_) => {}
                    Step::Swap(a, b) if !model.is_empty() => {
                        let (a, b) = (a % model.len(), b % model.len());
                        set.swap(a, b);
                        model.swap(a, b);
                    }
                    Step::SwapRemove(at) if !model.is_empty() => {
                        let at = at % model.len();
                        set.swap_remove(at);
                        model.swap_remove(at);
                    }
                    Step::Retain(keep) => {
                        let keep = |at: usize| keep.get(at).copied().unwrap_or(true);
                        set.retain(|at, _| keep(at));
                        let mut at = 0;
                        model.retain(|_| {
                            at += 1;
                            keep(at - 1)
                        });
                    }
                    Step::Shrink => set.shrink_to_fit(),
                    Step::Swap(..) | Step::SwapRemove(_) => {}
                }
                proptest::prop_assert_eq!(set.len(), model.len());
                proptest::prop_assert!(set.iter().eq(model.iter()));
                proptest::prop_assert!(set.entries().iter().map(|&n| id(n)).eq(model.iter().copied()));
                for (at, held) in model.iter().enumerate() {
                    proptest::prop_assert_eq!(set.key(at), key_of(held));
                }
                for n in 0..=64 {
                    let held = model.iter().position(|held| *held == id(n));
                    proptest::prop_assert_eq!(set.position(&id(n)), held);
                }
            }
        }
    }

    #[test]
    fn positions_survive_the_table_growing() {
        let mut set = PeerIds::default();
        let id = |n: u32| {
            let mut id = PeerId([0; 20]);
            id.0[..4].copy_from_slice(&n.to_be_bytes());
            id
        };
        for n in 0..10_000 {
            assert_eq!(set.push(id(n), None, 0u8), Some(n as usize));
        }
        assert!((0..10_000).all(|n| set.position(&id(n)) == Some(n as usize)));
        assert_eq!(set.position(&id(10_000)), None);
        assert_eq!(set[1234], id(1234));
    }

    #[test]
    fn a_table_comes_past_the_threshold_and_goes_once_few_are_left() {
        let mut set = PeerIds::default();
        for n in 0..=INDEXED as u8 {
            assert!(!set.indexed());
            set.push(id(n), None, 0u8);
        }
        assert!(set.indexed());
        assert_eq!(set.position(&id(3)), Some(3));
        set.retain(|at, _| at < 4);
        assert!(!set.indexed(), "a set of four ids is scanned");
        set.push(id(200), None, 0u8);
        assert_eq!((set.position(&id(200)), set.position(&id(3))), (Some(4), Some(3)));
    }
}

//! Two arrays of equal length in one allocation: a peer set's ids and its entries.
//!
//! Two `Vec`s took 48 bytes in every torrent's slot (a pointer, a length and a capacity each)
//! and two allocations, each rounded up to its own size class. Here one pointer and 32-bit
//! length and capacity take 16 bytes, and the block holds the first array, then the second at
//! the next address aligned for it. The arrays stay apart, so a walk over the second (a pick
//! of peers) reads only its bytes. Elements are `Copy`: nothing is dropped but the block.
//! The block grows as `domain::growth` says, in place where jemalloc can.

use std::alloc::{self, Layout};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::growth;

pub struct Columns<A, B> {
    /// The block: `cap` of `A` from its start, `cap` of `B` from `second_at(cap)`. Dangling
    /// while `cap` is 0.
    block: NonNull<u8>,
    len: u32,
    cap: u32,
    _owns: PhantomData<(A, B)>,
}

// The block is owned as a `Vec` owns its buffer: sending or sharing it is as safe as
// sending or sharing the elements.
unsafe impl<A: Send, B: Send> Send for Columns<A, B> {}
unsafe impl<A: Sync, B: Sync> Sync for Columns<A, B> {}

impl<A: Copy, B: Copy> Default for Columns<A, B> {
    fn default() -> Self {
        Self { block: Self::dangling(), len: 0, cap: 0, _owns: PhantomData }
    }
}

impl<A: Copy, B: Copy> Columns<A, B> {
    /// Most elements: lengths and capacities are 32-bit.
    pub const MAX: usize = u32::MAX as usize;

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    pub fn firsts(&self) -> &[A] {
        // The first `len` of `cap` slots from the block's start are written.
        unsafe { std::slice::from_raw_parts(self.block.as_ptr().cast::<A>(), self.len()) }
    }

    pub fn seconds(&self) -> &[B] {
        // As `firsts`, from where the second array starts.
        unsafe { std::slice::from_raw_parts(self.second_ptr(), self.len()) }
    }

    /// Both arrays, writable; they never overlap.
    pub fn both_mut(&mut self) -> (&mut [A], &mut [B]) {
        let len = self.len();
        let first = self.block.as_ptr().cast::<A>();
        let second = self.second_ptr();
        unsafe {
            (
                std::slice::from_raw_parts_mut(first, len),
                std::slice::from_raw_parts_mut(second, len),
            )
        }
    }

    /// Appends a pair; returns its position, or `None` when `MAX` pairs are held already.
    pub fn push(&mut self, a: A, b: B) -> Option<usize> {
        if self.len() == Self::MAX {
            return None;
        }
        if self.len == self.cap {
            let room = self.len().saturating_add(growth::step(self.len())).min(Self::MAX);
            self.resize(room);
        }
        let at = self.len();
        // `at < cap` now, so both slots are inside the block.
        unsafe {
            self.block.as_ptr().cast::<A>().add(at).write(a);
            self.second_ptr().add(at).write(b);
        }
        self.len += 1;
        Some(at)
    }

    /// Exchanges the pairs at `i` and `j`.
    pub fn swap(&mut self, i: usize, j: usize) {
        let (firsts, seconds) = self.both_mut();
        firsts.swap(i, j);
        seconds.swap(i, j);
    }

    /// Removes the pair at `at`, moving the last one into its place.
    pub fn swap_remove(&mut self, at: usize) {
        let last = self.len().checked_sub(1).expect("swap_remove on an empty Columns");
        self.swap(at, last);
        self.len -= 1;
    }

    /// Keeps the pairs for which `keep` (given each pair's position before and both halves)
    /// says true, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &A, &B) -> bool) {
        let (firsts, seconds) = self.both_mut();
        let mut kept = 0;
        for at in 0..firsts.len() {
            if keep(at, &firsts[at], &seconds[at]) {
                firsts[kept] = firsts[at];
                seconds[kept] = seconds[at];
                kept += 1;
            }
        }
        // No more than there were: fits in 32 bits.
        self.len = kept as u32;
    }

    /// Gives back the room past the length.
    pub fn shrink_to_fit(&mut self) {
        if self.cap != self.len {
            self.resize(self.len());
        }
    }

    fn dangling() -> NonNull<u8> {
        let align = Self::layout(0).1.align();
        // A non-zero address aligned for both halves, never read through.
        NonNull::new(ptr::without_provenance_mut(align)).expect("an alignment is not zero")
    }

    /// Where the second array starts in a block of `cap` pairs, and the block's layout.
    fn layout(cap: usize) -> (usize, Layout) {
        const { assert!(size_of::<A>() > 0 && size_of::<B>() > 0, "no zero-sized halves") };
        let first = Layout::array::<A>(cap).expect("a capacity of at most u32::MAX pairs");
        let second = Layout::array::<B>(cap).expect("a capacity of at most u32::MAX pairs");
        let (block, at) = first.extend(second).expect("a capacity of at most u32::MAX pairs");
        (at, block)
    }

    fn second_ptr(&self) -> *mut B {
        // What `layout` works out, without its checks: they passed when the block was made,
        // and this is on every read of an entry.
        let at = (self.capacity() * size_of::<A>()).next_multiple_of(align_of::<B>());
        // Inside the block, or the dangling pointer itself while `cap` is 0 (`at` is 0 then).
        unsafe { self.block.as_ptr().add(at).cast::<B>() }
    }

    /// Changes the room to `cap` pairs, `cap >= len`, moving the second array to where it
    /// starts then.
    fn resize(&mut self, cap: usize) {
        debug_assert!(cap >= self.len() && cap <= Self::MAX);
        if cap == self.capacity() {
            return;
        }
        let (old_at, old) = Self::layout(self.capacity());
        let (new_at, new) = Self::layout(cap);
        let len = self.len();
        let block = if self.cap == 0 {
            // `new` is not empty: `cap` differs from the old capacity, 0.
            unsafe { alloc::alloc(new) }
        } else if cap == 0 {
            unsafe { alloc::dealloc(self.block.as_ptr(), old) };
            self.block = Self::dangling();
            self.cap = 0;
            return;
        } else if cap > self.capacity() {
            // Grow, then move the second array up: both its places are inside the new block.
            unsafe {
                let block = alloc::realloc(self.block.as_ptr(), old, new.size());
                if !block.is_null() {
                    ptr::copy(block.add(old_at), block.add(new_at), len * size_of::<B>());
                }
                block
            }
        } else {
            // Move the second array down while the old block is whole, then shrink.
            unsafe {
                let block = self.block.as_ptr();
                ptr::copy(block.add(old_at), block.add(new_at), len * size_of::<B>());
                alloc::realloc(block, old, new.size())
            }
        };
        self.block = NonNull::new(block).unwrap_or_else(|| alloc::handle_alloc_error(new));
        // At most `MAX`.
        self.cap = cap as u32;
    }
}

impl<A, B> Drop for Columns<A, B> {
    fn drop(&mut self) {
        if self.cap != 0 {
            let first = Layout::array::<A>(self.cap as usize).expect("held before");
            let second = Layout::array::<B>(self.cap as usize).expect("held before");
            let (block, _) = first.extend(second).expect("held before");
            // The block was allocated with this very layout.
            unsafe { alloc::dealloc(self.block.as_ptr(), block) };
        }
    }
}

impl<A: Copy, B: Copy> Clone for Columns<A, B> {
    fn clone(&self) -> Self {
        let mut copy = Self::default();
        if !self.is_empty() {
            copy.resize(self.len());
            for (a, b) in self.firsts().iter().zip(self.seconds()) {
                copy.push(*a, *b);
            }
        }
        copy
    }
}

impl<A: Copy + fmt::Debug, B: Copy + fmt::Debug> fmt::Debug for Columns<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.firsts().iter().zip(self.seconds())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Push(u32),
        Swap(usize, usize),
        SwapRemove(usize),
        Retain(Vec<bool>),
        Shrink,
        Clone,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            6 => any::<u32>().prop_map(Step::Push),
            2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Step::Swap(a, b)),
            2 => any::<usize>().prop_map(Step::SwapRemove),
            1 => proptest::collection::vec(any::<bool>(), 0..90).prop_map(Step::Retain),
            1 => Just(Step::Shrink),
            1 => Just(Step::Clone),
        ]
    }

    /// A first half of 24 bytes aligned to 4 and a second of 3 bytes, as ids and entries
    /// are: the second array starts at an odd place in the block.
    fn pair(n: u32) -> ([u32; 6], [u8; 3]) {
        ([n, !n, n, 1, 2, n], [n as u8, (n >> 8) as u8, 7])
    }

    proptest::proptest! {
        /// Every step leaves the columns holding what a `Vec` of pairs holds.
        #[test]
        fn behaves_as_a_vec_of_pairs(steps in proptest::collection::vec(step(), 0..300)) {
            let mut columns: Columns<[u32; 6], [u8; 3]> = Columns::default();
            let mut model: Vec<([u32; 6], [u8; 3])> = Vec::new();
            for step in steps {
                match step {
                    Step::Push(n) => {
                        let (a, b) = pair(n);
                        proptest::prop_assert_eq!(columns.push(a, b), Some(model.len()));
                        model.push((a, b));
                    }
                    Step::Swap(i, j) if !model.is_empty() => {
                        let (i, j) = (i % model.len(), j % model.len());
                        columns.swap(i, j);
                        model.swap(i, j);
                    }
                    Step::SwapRemove(at) if !model.is_empty() => {
                        let at = at % model.len();
                        columns.swap_remove(at);
                        model.swap_remove(at);
                    }
                    Step::Retain(keep) => {
                        let keep = |at: usize| keep.get(at).copied().unwrap_or(true);
                        columns.retain(|at, _, _| keep(at));
                        let mut at = 0;
                        model.retain(|_| {
                            at += 1;
                            keep(at - 1)
                        });
                    }
                    Step::Shrink => {
                        columns.shrink_to_fit();
                        proptest::prop_assert_eq!(columns.capacity(), model.len());
                    }
                    Step::Clone => columns = columns.clone(),
                    Step::Swap(..) | Step::SwapRemove(_) => {}
                }
                proptest::prop_assert_eq!(columns.len(), model.len());
                proptest::prop_assert!(columns.capacity() >= columns.len());
                let firsts: Vec<_> = model.iter().map(|(a, _)| *a).collect();
                let seconds: Vec<_> = model.iter().map(|(_, b)| *b).collect();
                proptest::prop_assert_eq!(columns.firsts(), &firsts[..]);
                proptest::prop_assert_eq!(columns.seconds(), &seconds[..]);
            }
        }
    }

    #[test]
    fn one_pointer_and_two_32_bit_counts() {
        assert_eq!(size_of::<Columns<[u32; 6], [u8; 11]>>(), 16);
    }

    #[test]
    fn grows_by_an_eighth_and_shrinks_to_its_length() {
        let mut columns: Columns<u32, u8> = Columns::default();
        for n in 0..10_000u32 {
            columns.push(n, n as u8);
            let room = columns.capacity();
            let len = n as usize + 1;
            assert!(room <= len + len / 8 + 1, "{room} for {len}");
        }
        columns.retain(|at, _, _| at % 100 == 0);
        columns.shrink_to_fit();
        assert_eq!((columns.len(), columns.capacity()), (100, 100));
        assert!(columns.firsts().iter().zip(columns.seconds()).all(|(a, b)| *b == *a as u8));
        columns.retain(|_, _, _| false);
        columns.shrink_to_fit();
        assert_eq!(columns.capacity(), 0);
        assert_eq!(columns.push(5, 5), Some(0));
    }
}

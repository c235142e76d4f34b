//! How a peer set's arrays grow: by an eighth at a time, not by doubling.
//!
//! A tracker's memory is nearly all swarms, and most swarms are small. Doubling (what `Vec`
//! does) leaves up to half of a set's room empty, and a new set started with room for four
//! peers. Growing by an eighth (at least one) leaves at most an eighth empty; jemalloc
//! rounds each request up to its next size class (at most a quarter apart), and grows in place
//! within a class, so the steps that stay in one class copy nothing. The price is a copy of the
//! set every eighth of growth instead of every doubling, paid by newcomers only.

/// How much room to add to a full array of `len` elements.
pub fn step(len: usize) -> usize {
    (len / 8).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_an_eighth_and_at_least_one() {
        assert_eq!([0, 1, 8, 15, 16, 800].map(step), [1, 1, 1, 1, 2, 100]);
    }
}

//! How the `Vec`s of a peer set grow: by an eighth at a time, not by doubling.
//!
//! A tracker's memory is nearly all swarms, and most swarms are small. Doubling (what `Vec`
//! does) leaves up to half of a set's room empty, and a new set started with room for four
//! peers. Growing by an eighth (at least one) leaves at most an eighth empty; jemalloc
//! rounds each request up to its next size class (at most a quarter apart), and grows in place
//! within a class, so the steps that stay in one class copy nothing. The price is a copy of the
//! set every eighth of growth instead of every doubling, paid by newcomers only.

/// Makes room for one more element.
pub fn reserve_one<T>(vec: &mut Vec<T>) {
    if vec.len() == vec.capacity() {
        vec.reserve_exact((vec.len() / 8).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vec_grows_by_an_eighth_at_most() {
        let mut vec: Vec<[u8; 24]> = Vec::new();
        for n in 0..10_000 {
            reserve_one(&mut vec);
            vec.push([0; 24]);
            let room = vec.capacity();
            assert!(room <= (n + 1) + (n + 1) / 8 + 1, "{room} for {}", n + 1);
        }
    }
}

//! How long this host takes to answer a load from memory today: a chase through one random
//! cycle over a buffer many times the L3, so that each step waits for a cache miss (and a TLB
//! miss) before the next address is known. The tracker's cost a request follows this more
//! than the baseline's, which lives in the kernel's hot paths; recording it beside each run
//! tells a slower host from slower code (docs/benchmarks.md). The same walk
//! within the L1 takes a fixed few cycles a step, so it stands for the CPU's clock.

use std::hint::black_box;
use std::time::Instant;

use fastrand::Rng;

/// A permutation whose one cycle runs through every slot: `next[i]` is the slot after `i`.
fn single_cycle(slots: usize, rng: &mut Rng) -> Vec<u32> {
    let slots = u32::try_from(slots).expect("the probe's buffer has under 2^32 slots");
    let mut next: Vec<u32> = (0..slots).collect();
    // Sattolo's shuffle: swapping each slot only with an earlier one leaves a single cycle.
    for slot in (1..next.len()).rev() {
        next.swap(slot, rng.usize(..slot));
    }
    next
}

/// A walk that fits in any L1 data cache.
const L1_WALK_BYTES: usize = 4096;

/// What the chases measured.
pub struct Latency {
    /// A step of the walk over `mib` MiB.
    pub far_nanos: f64,
    /// A step of the walk within the L1.
    pub near_nanos: f64,
    pub mib: usize,
    pub steps: u64,
}

/// Chases `steps` dependent loads through a random cycle over `mib` MiB, and as many within
/// the L1.
pub fn memory_latency(mib: usize, steps: u64, seed: u64) -> Latency {
    let mut rng = Rng::with_seed(seed);
    Latency {
        far_nanos: walk(mib << 20, steps, &mut rng),
        near_nanos: walk(L1_WALK_BYTES, steps, &mut rng),
        mib,
        steps,
    }
}

/// Nanoseconds a step of a walk through one random cycle over `bytes`.
fn walk(bytes: usize, steps: u64, rng: &mut Rng) -> f64 {
    let next = single_cycle((bytes / size_of::<u32>()).max(1), rng);
    let mut at = 0u32;
    let started = Instant::now();
    for _ in 0..steps {
        at = next[at as usize];
    }
    let elapsed = started.elapsed();
    black_box(at);
    elapsed.as_nanos() as f64 / steps.max(1) as f64
}

impl Latency {
    pub fn line(&self) -> String {
        format!(
            "memory: {:.1} ns a dependent load over {} MiB, {:.2} ns within the L1 ({} steps \
             of a random walk each)",
            self.far_nanos, self.mib, self.near_nanos, self.steps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk from slot 0 and how many steps it takes to come back.
    fn cycle_length(next: &[u32]) -> usize {
        let (mut at, mut steps) = (next[0], 1);
        while at != 0 {
            at = next[at as usize];
            steps += 1;
        }
        steps
    }

    #[test]
    fn the_walk_passes_every_slot_before_it_comes_back() {
        for seed in 0..20 {
            for slots in [1, 2, 3, 10, 1000] {
                let next = single_cycle(slots, &mut Rng::with_seed(seed));
                assert_eq!(cycle_length(&next), slots, "seed {seed}, {slots} slots");
                let mut sorted = next.clone();
                sorted.sort_unstable();
                assert!(sorted.iter().copied().eq(0..slots as u32), "a permutation");
            }
        }
    }

    #[test]
    fn the_walk_is_not_the_identity_or_a_stride() {
        let next = single_cycle(1000, &mut Rng::with_seed(7));
        let strides: std::collections::HashSet<_> =
            next.iter().enumerate().map(|(slot, &to)| to as i64 - slot as i64).collect();
        assert!(strides.len() > 500, "{} distinct strides", strides.len());
    }

    #[test]
    fn a_chase_reports_its_size_and_steps() {
        let latency = memory_latency(1, 10_000, 3);
        assert_eq!((latency.mib, latency.steps), (1, 10_000));
        assert!(latency.far_nanos > 0.0 && latency.near_nanos > 0.0);
        let line = latency.line();
        assert!(line.contains(" ns a dependent load over 1 MiB, "), "{line}");
        assert!(line.ends_with(" ns within the L1 (10000 steps of a random walk each)"), "{line}");
    }
}

//! Time as the core sees it: a value handed in, never read from a clock here.

use std::time::Duration;

/// Whole seconds since the Unix epoch. Second resolution is all peer aging needs, and
/// 32 bits keep every stored peer small (good until the year 2106).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u32);

impl Timestamp {
    pub const fn from_secs(secs: u32) -> Self {
        Self(secs)
    }

    pub const fn secs(self) -> u32 {
        self.0
    }

    /// The moment `span` before this one, stopping at the epoch rather than wrapping.
    pub fn saturating_sub(self, span: Duration) -> Self {
        let span = u32::try_from(span.as_secs()).unwrap_or(u32::MAX);
        Self(self.0.saturating_sub(span))
    }

    pub fn saturating_add(self, span: Duration) -> Self {
        let span = u32::try_from(span.as_secs()).unwrap_or(u32::MAX);
        Self(self.0.saturating_add(span))
    }
}

/// How long a peer stays listed after its last announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAge(Duration);

impl PeerAge {
    pub const fn new(age: Duration) -> Self {
        Self(age)
    }

    pub const fn duration(self) -> Duration {
        self.0
    }

    /// Peers last seen before the returned moment are expired at `now`.
    pub fn cutoff(self, now: Timestamp) -> Timestamp {
        now.saturating_sub(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_now_minus_age() {
        let age = PeerAge::new(Duration::from_secs(180 * 60));
        assert_eq!(age.cutoff(Timestamp::from_secs(20_000)), Timestamp::from_secs(9_200));
    }

    #[test]
    fn cutoff_stops_at_the_epoch() {
        let age = PeerAge::new(Duration::from_secs(60));
        assert_eq!(age.cutoff(Timestamp::from_secs(10)), Timestamp::from_secs(0));
    }

    #[test]
    fn huge_spans_saturate() {
        let t = Timestamp::from_secs(5);
        assert_eq!(t.saturating_add(Duration::from_secs(u64::MAX)), Timestamp::from_secs(u32::MAX));
        assert_eq!(t.saturating_sub(Duration::from_secs(u64::MAX)), Timestamp::from_secs(0));
    }
}

//! For warnings about what can happen thousands of times a second (refused connections, failed
//! accepts): logged at most once a period, with a count of those left out since, so the log
//! says how often without being flooded.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogThrottle {
    every: Duration,
    logged_at: Option<Instant>,
    held_back: u64,
}

impl LogThrottle {
    pub fn new(every: Duration) -> Self {
        Self { every, logged_at: None, held_back: 0 }
    }

    /// Counts one occurrence at `now`. `Some(n)` when it is to be logged, `n` being how many
    /// occurrences since the last logged one were not.
    pub fn occurred(&mut self, now: Instant) -> Option<u64> {
        let due = self.logged_at.is_none_or(|at| now.saturating_duration_since(at) >= self.every);
        if !due {
            self.held_back += 1;
            return None;
        }
        self.logged_at = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_then_once_a_period_with_the_count_left_out() {
        let minute = Duration::from_secs(60);
        let mut throttle = LogThrottle::new(minute);
        let start = Instant::now();
        assert_eq!(throttle.occurred(start), Some(0));
        for second in 1..60 {
            assert_eq!(throttle.occurred(start + Duration::from_secs(second)), None);
        }
        assert_eq!(throttle.occurred(start + minute), Some(59));
        assert_eq!(throttle.occurred(start + minute + Duration::from_secs(1)), None);
        assert_eq!(throttle.occurred(start + minute * 5), Some(1), "a quiet spell then one");
    }
}

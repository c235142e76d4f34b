//! The last hour of torrent and peer counts, for the status page's charts.
//!
//! A fixed ring of small samples: 360 of 16 bytes, under 6 KB however long the tracker runs.

/// One count of what was held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Seconds since start when it was taken.
    pub at_secs: u32,
    pub torrents: u32,
    pub seeders: u32,
    pub leechers: u32,
}

pub struct History {
    samples: Box<[Sample]>,
    /// Where the next sample goes.
    next: usize,
    /// Samples held, up to the ring's size.
    held: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        Self { samples: vec![Sample::default(); capacity.max(1)].into(), next: 0, held: 0 }
    }

    /// Adds `sample`, dropping the oldest once the ring is full.
    pub fn push(&mut self, sample: Sample) {
        self.samples[self.next] = sample;
        self.next = (self.next + 1) % self.samples.len();
        self.held = (self.held + 1).min(self.samples.len());
    }

    /// The samples held, oldest first.
    pub fn oldest_first(&self) -> Vec<Sample> {
        let start = (self.next + self.samples.len() - self.held) % self.samples.len();
        (0..self.held).map(|offset| self.samples[(start + offset) % self.samples.len()]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u32) -> Sample {
        Sample { at_secs: secs, torrents: secs, ..Sample::default() }
    }

    #[test]
    fn keeps_the_newest_samples_oldest_first() {
        let mut history = History::new(3);
        assert_eq!(history.oldest_first(), []);
        history.push(at(10));
        history.push(at(20));
        assert_eq!(history.oldest_first(), [at(10), at(20)]);
        history.push(at(30));
        history.push(at(40));
        history.push(at(50));
        assert_eq!(history.oldest_first(), [at(30), at(40), at(50)]);
    }

    #[test]
    fn an_hour_of_ten_second_samples_is_a_few_kilobytes() {
        assert!(std::mem::size_of::<Sample>() * 360 <= 6 * 1024);
    }
}
